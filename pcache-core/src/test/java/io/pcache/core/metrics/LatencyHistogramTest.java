package io.pcache.core.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LatencyHistogramTest {

  @Test
  void everyValueLandsInTheBucketThatBoundsIt() {
    SplittableRandom r = new SplittableRandom(7);
    for (int n = 0; n < 200_000; n++) {
      long v = r.nextLong(1L << r.nextInt(1, 40));
      int i = LatencyHistogram.index(v);
      assertTrue(LatencyHistogram.lowerNanos(i) <= v, v + " below bucket " + i);
      assertTrue(v < LatencyHistogram.upperNanos(i) || i == LatencyHistogram.FINITE, v + " above bucket " + i);
    }
    for (int i = 1; i < LatencyHistogram.BUCKETS; i++) {
      assertTrue(LatencyHistogram.upperNanos(i) > LatencyHistogram.upperNanos(i - 1), "bounds grow at " + i);
    }
    assertEquals(LatencyHistogram.FINITE, LatencyHistogram.index(Long.MAX_VALUE));
    assertEquals(0, LatencyHistogram.index(0));
  }

  @Test
  void bucketsAreAtMostAQuarterOfTheirValue() {
    for (int i = LatencyHistogram.SUBS; i < LatencyHistogram.FINITE; i++) {
      long lo = LatencyHistogram.lowerNanos(i);
      long width = LatencyHistogram.upperNanos(i) - lo;
      assertTrue(width * 4 <= lo, "bucket " + i + " [" + lo + ", +" + width + ")");
    }
  }

  @Test
  void quantilesOfAKnownDistribution() {
    LatencyHistogram h = new LatencyHistogram();
    // 1 000 000 values spread evenly over 1 µs .. 1001 µs: p50 ≈ 501 µs, p99 ≈ 991 µs.
    for (int k = 0; k < 1_000_000; k++) {
      h.record(1_000 + k);
    }
    LatencyHistogram.Snapshot s = h.snapshot();
    assertEquals(1_000_000, s.count());
    assertEquals(1_000_000L * 1_000 + 999_999L * 1_000_000 / 2, s.sumNanos());
    assertEquals(501_000, s.quantileNanos(0.5), 501_000 * 0.13);
    assertEquals(991_000, s.quantileNanos(0.99), 991_000 * 0.13);
    assertEquals(1_000_000, s.quantileNanos(1.0), 1_000_000 * 0.25);
    assertEquals(0, new LatencyHistogram().snapshot().quantileNanos(0.5));
  }

  @Test
  void concurrentRecordsAreAllCounted() throws Exception {
    LatencyHistogram h = new LatencyHistogram();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      threads.add(Thread.ofPlatform().name("histogram-test-" + t).start(() -> {
        for (int k = 0; k < 100_000; k++) {
          h.record(k);
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    LatencyHistogram.Snapshot s = h.snapshot();
    assertEquals(800_000, s.count());
    assertEquals(8L * (99_999L * 100_000 / 2), s.sumNanos());
    assertEquals(800_000, s.countBelow(Long.MAX_VALUE));
  }
}
