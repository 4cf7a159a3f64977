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
    var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    {
      // The raw copy, for scale: CPU time per 4 KiB copy into a random place of the mapping.
      MemorySegment mapping = media.mapping();
      MemorySegment buf = EngineBenchmark.randomFill(Arena.ofAuto().allocate(4096, 4096), new SplittableRandom(9));
      SplittableRandom r = new SplittableRandom(3);
      for (int round = 0; round < 3; round++) {
        long cpu0 = mx.getCurrentThreadCpuTime();
        long t0 = System.nanoTime();
        int n = 1_000_000;
        for (int i = 0; i < n; i++) {
          MemorySegment.copy(buf, 0, mapping, (1L << 20) + r.nextLong((EngineBenchmark.MEDIA - (2L << 20)) / 4096) * 4096, 4096);
        }
        System.out.printf("raw copy: %.0f ns CPU, %.0f ns wall per 4 KiB%n", (mx.getCurrentThreadCpuTime() - cpu0) / (double) n,
            (System.nanoTime() - t0) / (double) n);
      }
    }
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
    long last = 0;
    long lastProc = os.getProcessCpuTime();
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
      long proc = os.getProcessCpuTime();
      line.append(String.format("  | process %.0f ns CPU per write", (proc - lastProc) / (double) Math.max(1, now - last)));
      lastProc = proc;
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
