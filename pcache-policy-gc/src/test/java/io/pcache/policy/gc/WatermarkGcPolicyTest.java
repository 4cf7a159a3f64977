package io.pcache.policy.gc;

import io.pcache.testkit.MapConfig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.ConfigKey;
import io.pcache.api.gc.CacheUsage;
import io.pcache.api.gc.GcPolicy;
import io.pcache.testkit.Seeds;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

class WatermarkGcPolicyTest {

  private static final int SEGS_1G = 63;

  private final WatermarkGcPolicyProvider provider = new WatermarkGcPolicyProvider();

  private GcPolicy policy(int high, int low) {
    return provider.create(new MapConfig(provider.configKeys(), Map.of(
        WatermarkGcPolicyProvider.HIGH_KEY, Integer.toString(high),
        WatermarkGcPolicyProvider.LOW_KEY, Integer.toString(low))));
  }

  private static CacheUsage used(int total, int used) {
    return new CacheUsage(total, used, 0, 0);
  }

  @Test
  void declaresItsConfigKeys() {
    assertEquals("watermark", provider.name());
    Map<String, ConfigKey> keys = new java.util.HashMap<>();
    provider.configKeys().forEach(k -> keys.put(k.name(), k));
    assertEquals(2, keys.size());
    ConfigKey high = keys.get("gc.watermark.high");
    ConfigKey low = keys.get("gc.watermark.low");
    assertEquals(ConfigKey.Type.INT, high.type());
    assertEquals(ConfigKey.Type.INT, low.type());
    assertEquals("80", high.defaultValue());
    assertEquals("60", low.defaultValue());
    for (ConfigKey k : keys.values()) {
      assertEquals(1, k.min(), k.name());
      assertEquals(95, k.max(), k.name());
      assertTrue(k.name().startsWith("gc.watermark."), k.name());
    }
  }

  @Test
  void defaultsAreEightyAndSixty() {
    GcPolicy p = provider.create(new MapConfig(provider.configKeys(), Map.of()));
    assertEquals(Map.of("high", "80", "low", "60"), p.parameters());
  }

  @ParameterizedTest(name = "{0}/{1} of {2} segments, {3} used -> reclaim {4}")
  @CsvSource({
      "80, 60, 63, 50, 0",     // highMark ceil(50.4) = 51, lowMark floor(37.8) = 37
      "80, 60, 63, 51, 14",
      "80, 60, 63, 63, 26",    // 100 % used
      "80, 60, 63, 0, 0",
      "80, 60, 100, 79, 0",    // exact percentages
      "80, 60, 100, 80, 20",
      "80, 60, 100, 100, 40",
      "95, 1, 63, 59, 0",      // ceil(59.85) = 60
      "95, 1, 63, 60, 60",     // floor(0.63) = 0: everything
      "95, 94, 100, 95, 1",
      "2, 1, 100, 1, 0",
      "2, 1, 100, 2, 1",
      "95, 1, 1, 1, 1",        // one segment: high mark 1, low mark 0
      "50, 40, 1, 0, 0",
      "80, 60, 4095, 3275, 0", // 64 GiB cache
      "80, 60, 4095, 3276, 819",
  })
  void boundaries(int high, int low, int total, int usedSegments, int expected) {
    assertEquals(expected, policy(high, low).segmentsToReclaim(used(total, usedSegments)));
  }

  @ParameterizedTest(name = "{0} used, {1} waiting -> {2}")
  @CsvSource({
      "10, 1, 1",
      "50, 2, 1",
      "0, 3, 0",
      "51, 1, 14",
      "1, 1, 1",
  })
  void waitingWritersGetAtLeastOneSegment(int usedSegments, int waiting, int expected) {
    assertEquals(expected, policy(80, 60).segmentsToReclaim(new CacheUsage(SEGS_1G, usedSegments, 0, waiting)));
  }

  @Test
  void setParameterMovesOneWatermark() {
    GcPolicy p = policy(80, 60);
    p.setParameter("high", "90");
    p.setParameter("low", "10");
    assertEquals(Map.of("high", "90", "low", "10"), p.parameters());
    // highMark ceil(56.7) = 57, lowMark floor(6.3) = 6
    assertEquals(0, p.segmentsToReclaim(used(SEGS_1G, 56)));
    assertEquals(51, p.segmentsToReclaim(used(SEGS_1G, 57)));
  }

  @ParameterizedTest
  @NullSource
  @ValueSource(strings = {"0", "96", "-5", "", "x", "80.5"})
  void badValuesAreRefusedAndLeaveBothUnchanged(String value) {
    for (String key : List.of("high", "low")) {
      GcPolicy p = policy(80, 60);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.setParameter(key, value));
      assertTrue(e.getMessage().contains("'" + key + "'"), e.getMessage());
      assertTrue(e.getMessage().contains("'" + value + "'"), e.getMessage());
      assertTrue(e.getMessage().contains("1..95"), e.getMessage());
      assertEquals(Map.of("high", "80", "low", "60"), p.parameters());
    }
  }

  @ParameterizedTest
  @CsvSource({"high, 60", "high, 59", "high, 1", "low, 80", "low, 95"})
  void crossingWatermarksAreRefused(String key, String value) {
    GcPolicy p = policy(80, 60);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.setParameter(key, value));
    assertTrue(e.getMessage().contains("'" + key + "'"), e.getMessage());
    assertTrue(e.getMessage().contains("'" + value + "'"), e.getMessage());
    assertTrue(e.getMessage().contains(key.equals("high") ? "above low = 60" : "below high = 80"), e.getMessage());
    assertEquals(Map.of("high", "80", "low", "60"), p.parameters());
  }

  @Test
  void unknownParameterIsRefused() {
    GcPolicy p = policy(80, 60);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.setParameter("percent", "50"));
    assertTrue(e.getMessage().contains("'percent'") && e.getMessage().contains("high, low"), e.getMessage());
    assertEquals(Map.of("high", "80", "low", "60"), p.parameters());
  }

  @ParameterizedTest
  @CsvSource({"80, 80", "60, 80", "96, 60", "80, 0", "0, 0", "100, 50"})
  void createRefusesBadWatermarks(int high, int low) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> policy(high, low));
    String m = e.getMessage();
    if (high < 1 || high > 95) {
      assertTrue(m.contains("gc.watermark.high = " + high) && m.contains("1..95"), m);
    } else if (low < 1 || low > 95) {
      assertTrue(m.contains("gc.watermark.low = " + low) && m.contains("1..95"), m);
    } else {
      assertTrue(m.contains("gc.watermark.low = " + low) && m.contains("must be below")
          && m.contains("gc.watermark.high = " + high), m);
    }
  }

  @Test
  void concurrentUpdatesNeverCrossTheWatermarks() throws InterruptedException {
    GcPolicy p = policy(80, 60);
    AtomicReference<String> failure = new AtomicReference<>();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      long seed = Seeds.seed() + t;
      threads.add(Thread.ofPlatform().name("watermark-writer-" + t).start(() -> {
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < 20_000; i++) {
          try {
            p.setParameter(random.nextBoolean() ? "high" : "low", Integer.toString(1 + random.nextInt(95)));
          } catch (IllegalArgumentException expectedSometimes) {
            // a value that would cross the other watermark
          }
          Map<String, String> now = p.parameters();
          int high = Integer.parseInt(now.get("high"));
          int low = Integer.parseInt(now.get("low"));
          if (low >= high) {
            failure.compareAndSet(null, "saw low " + low + " >= high " + high + " (seed " + seed + ")");
          }
          int r = p.segmentsToReclaim(used(100, 100));
          if (r < 5 || r > 99) {
            failure.compareAndSet(null, "reclaim " + r + " of 100 with 1..95 watermarks (seed " + seed + ")");
          }
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    assertEquals(null, failure.get());
  }

  @Test
  void propertyNeverMoreThanUsedNeverBelowTheLowWatermark() {
    SplittableRandom random = Seeds.random("WatermarkGcPolicyTest.property");
    for (int i = 0; i < 20_000; i++) {
      int high = 2 + random.nextInt(94);
      int low = 1 + random.nextInt(high - 1);
      int total = random.nextBoolean() ? 1 + random.nextInt(128) : 1 + random.nextInt(1 << 20);
      int usedSegments = random.nextInt(total + 1);
      int dirty = random.nextInt(usedSegments + 1);
      int waiting = random.nextInt(4) == 0 ? 1 + random.nextInt(8) : 0;
      CacheUsage usage = new CacheUsage(total, usedSegments, dirty, waiting);
      int r = policy(high, low).segmentsToReclaim(usage);
      String what = usage + " at " + high + "/" + low + " -> " + r;

      assertTrue(r >= 0 && r <= usedSegments, what);
      boolean reachedHigh = 100L * usedSegments >= (long) total * high;
      if (r > 1 || (r == 1 && waiting == 0)) {
        assertTrue(reachedHigh, "reclaimed before reaching the high watermark: " + what);
        long left = usedSegments - r;
        assertTrue(100L * left <= (long) total * low, "left usage above the low watermark: " + what);
        assertTrue(100L * (left + 1) > (long) total * low, "drove usage below the low watermark: " + what);
      } else if (waiting == 0) {
        assertTrue(!reachedHigh || usedSegments == 0, "did not reclaim at the high watermark: " + what);
      }
      if (waiting > 0 && usedSegments > 0) {
        assertTrue(r >= 1, "writers waiting but nothing reclaimed: " + what);
      }
    }
  }
}
