package io.pcache.benchmarks;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.engine.EngineOptions;
import io.pcache.testkit.MemoryBacking;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;

/**
 * Burst writes (the write path alone) against raw copies, in alternating rounds so that both see
 * the same machine: each round, {@code threads} threads each do {@code perThread} 4 KiB random
 * writes into a freshly formatted cache with writeback paused, then the same number of raw 4 KiB
 * copies into random places of the same mapping. Prints the median nanoseconds per operation and
 * thread of each, and their ratio. A quicker, steadier A/B tool than {@link EngineBurstBenchmark}
 * on a noisy machine (single shots of a fraction of a second scatter by ±50 % there); the figures
 * of record stay with JMH.
 *
 * <p>Run: {@code java --enable-native-access=ALL-UNNAMED -cp pcache-benchmarks/target/benchmarks.jar
 * io.pcache.benchmarks.BurstProbe [threads] [rounds] [perThread] [disjoint|shared] [crc|nocrc|both]}.
 * With {@code both}, each round writes once with data CRCs off and once on (alternating which goes
 * first) and the medians of both and their ratio are printed: the cost of data CRCs on the write
 * path.
 */
public final class BurstProbe {

  private BurstProbe() {}

  public static void main(String[] args) throws Exception {
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 15;
    int perThread = args.length > 2 ? Integer.parseInt(args[2]) : 100_000;
    // "disjoint": each thread writes its own part of the span (no stripe shared between threads)
    boolean disjoint = args.length > 3 && args[3].equals("disjoint");
    String crcMode = args.length > 4 ? args[4] : "nocrc";
    boolean both = crcMode.equals("both");
    long part = disjoint ? EngineBenchmark.WRITE_SPAN / threads : EngineBenchmark.WRITE_SPAN;
    CacheMedia media = Fixtures.tmpfsMedia("burstprobe", EngineBenchmark.MEDIA);
    MemoryBacking backing = MemoryBacking.allocate("mem:backing", EngineBenchmark.BACKING);
    MemorySegment mapping = media.mapping();
    long[] engineNs = new long[rounds];
    long[] crcNs = new long[rounds];
    long[] rawNs = new long[rounds];
    for (int round = 0; round < rounds; round++) {
      int seed = round;
      for (int pass = 0; pass < (both ? 2 : 1); pass++) {
        boolean crc = both ? (pass + round) % 2 == 1 : crcMode.equals("crc");
        mapping.asSlice(4096, 20480 + 12288 - 4096).fill((byte) 0); // blank metadata: open formats it again
        CacheEngine engine = CacheEngine.open(media, backing, EngineOptions.defaults().withDataCrc(crc),
            Fixtures.threshold(70));
        engine.writeback().pause();
        long ns = run(threads, (id, buf, r) -> {
          for (int i = 0; i < perThread; i++) {
            engine.write((disjoint ? id * part : 0) + r.nextLong(part / 4096) * 4096, buf, false);
          }
        }, seed) / perThread;
        engine.close();
        if (crc && both) {
          crcNs[round] = ns;
        } else {
          engineNs[round] = ns;
        }
      }
      rawNs[round] = run(threads, (id, buf, r) -> {
        for (int i = 0; i < perThread; i++) {
          MemorySegment.copy(buf, 0, mapping, (1L << 20) + r.nextLong((EngineBenchmark.MEDIA - (2L << 20)) / 4096) * 4096,
              4096);
        }
      }, seed) / perThread;
      System.out.printf("round %2d: engine %5d ns/write%s, raw %4d ns/copy (per thread)%n", round, engineNs[round],
          both ? String.format(", with data CRCs %5d ns/write", crcNs[round]) : "", rawNs[round]);
    }
    long e = median(engineNs);
    long c = median(rawNs);
    System.out.printf("threads %d, %d rounds of %d per thread: median engine %d ns/write, raw %d ns/copy, ratio %.2fx%n",
        threads, rounds, perThread, e, c, (double) c / e);
    if (both) {
      long k = median(crcNs);
      long[] perMille = new long[rounds];
      for (int i = 0; i < rounds; i++) {
        perMille[i] = 1000 * crcNs[i] / engineNs[i];
      }
      System.out.printf("data CRCs: median %d ns/write against %d without: %+.1f %%; median of the rounds' own ratios %+.1f %%"
          + " (ratio to raw %.2fx)%n", k, e, 100.0 * (k - e) / e, (median(perMille) - 1000) / 10.0, (double) c / k);
    }
    Fixtures.delete(media);
  }

  @FunctionalInterface
  interface Body {
    void run(int id, MemorySegment buf, SplittableRandom random) throws Exception;
  }

  /** Wall time of the slowest of {@code threads} threads running {@code body} from one start line. */
  private static long run(int threads, Body body, int seed) throws Exception {
    CyclicBarrier start = new CyclicBarrier(threads);
    long[] took = new long[threads];
    Thread[] ts = new Thread[threads];
    for (int t = 0; t < threads; t++) {
      int id = t;
      ts[t] = Thread.ofPlatform().name("burst-" + t).start(() -> {
        SplittableRandom r = new SplittableRandom(seed * 31L + id);
        MemorySegment buf = EngineBenchmark.randomFill(Arena.ofAuto().allocate(4096, 4096), r);
        try {
          start.await();
          long t0 = System.nanoTime();
          body.run(id, buf, r);
          took[id] = System.nanoTime() - t0;
        } catch (Exception ex) {
          throw new RuntimeException(ex);
        }
      });
    }
    for (Thread t : ts) {
      t.join();
    }
    return Arrays.stream(took).max().orElseThrow();
  }

  private static long median(long[] v) {
    long[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
