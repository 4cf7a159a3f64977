package io.pcache.benchmarks;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.engine.EngineOptions;
import io.pcache.testkit.MemoryBacking;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.LongAdder;

/**
 * A plain loop of 4 KiB random writes that prints, once a second, the write rate and what
 * writeback and GC did, with the CPU time of every thread of the JVM: where sustained writes
 * spend their time. Not a measurement of record (that is {@link EngineBenchmark}).
 *
 * <p>Run: {@code java --enable-native-access=ALL-UNNAMED -cp pcache-benchmarks/target/benchmarks.jar
 * io.pcache.benchmarks.WriteProbe [threads] [seconds] [spanMiB]}.
 */
public final class WriteProbe {

  private WriteProbe() {}

  public static void main(String[] args) throws Exception {
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
    int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
    long span = (args.length > 2 ? Long.parseLong(args[2]) : 512) << 20;
    CacheMedia media = Fixtures.tmpfsMedia("probe", EngineBenchmark.MEDIA);
    CacheEngine engine = CacheEngine.open(media, MemoryBacking.allocate("mem:backing", EngineBenchmark.BACKING),
        EngineOptions.defaults(), Fixtures.threshold(70));
    LongAdder done = new LongAdder();
    List<Thread> workers = new ArrayList<>();
    long stopAt = System.nanoTime() + seconds * 1_000_000_000L;
    for (int t = 0; t < threads; t++) {
      int id = t;
      workers.add(Thread.ofPlatform().name("probe-writer-" + t).start(() -> {
        SplittableRandom r = new SplittableRandom(id);
        MemorySegment buf = Arena.ofAuto().allocate(4096, 4096);
        EngineBenchmark.randomFill(buf, r);
        try {
          while (System.nanoTime() < stopAt) {
            for (int i = 0; i < 1000; i++) {
              engine.write(r.nextLong(span / 4096) * 4096, buf, false);
            }
            done.add(1000);
          }
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      }));
    }
    var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    long last = 0;
    Map<String, Long> lastC = engine.counters();
    Map<Long, Long> lastCpu = new java.util.HashMap<>();
    while (workers.stream().anyMatch(Thread::isAlive)) {
      Thread.sleep(1000);
      long now = done.sum();
      Map<String, Long> c = engine.counters();
      System.out.printf("writes %.3f M/s  wb_keys %d  wb_ksets %d  gc_ksets %d  freed %d  full_waits %d  used %d%n",
          (now - last) / 1e6, c.get("writeback_keys") - lastC.get("writeback_keys"),
          c.get("writeback_ksets") - lastC.get("writeback_ksets"), c.get("gc_ksets") - lastC.get("gc_ksets"),
          c.get("gc_segments_freed") - lastC.get("gc_segments_freed"), c.get("full_waits") - lastC.get("full_waits"),
          c.get("segments_used"));
      StringBuilder line = new StringBuilder("  cpu ms/s:");
      for (long id : mx.getAllThreadIds()) {
        var info = mx.getThreadInfo(id);
        long ns = mx.getThreadCpuTime(id);
        long d = ns - lastCpu.getOrDefault(id, 0L);
        lastCpu.put(id, ns);
        if (info != null && d > 20_000_000L) {
          line.append(' ').append(info.getThreadName()).append('=').append(d / 1_000_000);
        }
      }
      System.out.println(line);
      last = now;
      lastC = c;
    }
    StringBuilder cpu = new StringBuilder("thread CPU ms:");
    for (long id : mx.getAllThreadIds()) {
      var info = mx.getThreadInfo(id);
      long ns = mx.getThreadCpuTime(id);
      if (info != null && ns > 50_000_000L) {
        cpu.append(' ').append(info.getThreadName()).append('=').append(ns / 1_000_000);
      }
    }
    System.out.println(cpu);
    engine.close();
    Fixtures.delete(media);
  }
}
