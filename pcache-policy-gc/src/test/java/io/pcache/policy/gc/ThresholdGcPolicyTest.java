package io.pcache.policy.gc;

import io.pcache.testkit.MapConfig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.pcache.api.ConfigKey;
import io.pcache.api.gc.CacheUsage;
import io.pcache.api.gc.GcPolicy;
import io.pcache.testkit.Seeds;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

class ThresholdGcPolicyTest {

  /** A 1 GiB cache: (1 GiB - 20 KiB) / 16 MiB. */
  private static final int SEGS_1G = 63;

  private final ThresholdGcPolicyProvider provider = new ThresholdGcPolicyProvider();

  private GcPolicy policy(int percent) {
    return provider.create(new MapConfig(provider.configKeys(),
        Map.of(ThresholdGcPolicyProvider.PERCENT_KEY, Integer.toString(percent))));
  }

  private static CacheUsage used(int total, int used) {
    return new CacheUsage(total, used, 0, 0);
  }

  @Test
  void declaresItsConfigKey() {
    assertEquals("threshold", provider.name());
    assertEquals(1, provider.configKeys().size());
    ConfigKey key = provider.configKeys().getFirst();
    assertEquals("gc.threshold.percent", key.name());
    assertEquals(ConfigKey.Type.INT, key.type());
    assertEquals("70", key.defaultValue());
    assertEquals(0, key.min());
    assertEquals(90, key.max());
    assertTrue(key.name().startsWith("gc.threshold."), "keys must carry the provider's prefix");
  }

  @Test
  void defaultIsSeventyPercent() {
    GcPolicy p = provider.create(new MapConfig(provider.configKeys(), Map.of()));
    assertEquals(Map.of("percent", "70"), p.parameters());
    // 63 * 70 / 100 = 44.1 -> threshold 44 (69.8 %)
    assertEquals(0, p.segmentsToReclaim(used(SEGS_1G, 43)));
    assertEquals(1, p.segmentsToReclaim(used(SEGS_1G, 44)));
  }

  @ParameterizedTest(name = "{0}% of {1} segments, {2} used -> reclaim {3}")
  @CsvSource({
      // exactly at the threshold reclaims one segment, just below reclaims none
      "70, 63, 43, 0",
      "70, 63, 44, 1",
      "70, 63, 45, 2",
      "70, 63, 63, 20",   // 100 % used: back to 43
      "70, 31, 20, 0",    // smallest dm-pcache cache: threshold 31*70/100 = 21
      "70, 31, 21, 1",
      "70, 31, 31, 11",
      "90, 63, 55, 0",    // 63*90/100 = 56.7 -> 56
      "90, 63, 56, 1",
      "90, 63, 63, 8",
      "90, 100, 89, 0",
      "90, 100, 90, 1",
      "90, 100, 100, 11",
      "0, 63, 0, 0",      // drain: nothing used, nothing to do
      "0, 63, 1, 1",
      "0, 63, 40, 40",    // drain: everything
      "0, 63, 63, 63",
      "70, 1, 1, 1",      // 1 * 70 / 100 = 0: like dm-pcache, a tiny cache always reclaims
      "50, 2, 0, 0",
      "50, 2, 1, 1",
      "50, 1048576, 524287, 0",
      "50, 1048576, 524288, 1",
      "50, 1048576, 1048576, 524289",
  })
  void boundaries(int percent, int total, int usedSegments, int expected) {
    assertEquals(expected, policy(percent).segmentsToReclaim(used(total, usedSegments)));
  }

  @Test
  void usageIsComparedInSegmentsNotRoundedPercent() {
    // 44/63 = 69.8 %: a rounded-percentage comparison would wait for 45; dm-pcache starts at 44.
    assertTrue(44 * 100 / SEGS_1G < 70);
    assertEquals(1, policy(70).segmentsToReclaim(used(SEGS_1G, 44)));
  }

  @Test
  void dirtySegmentsDoNotChangeTheCount() {
    // The engine skips dirty segments; the policy only says how far usage should fall.
    assertEquals(20, policy(70).segmentsToReclaim(new CacheUsage(SEGS_1G, 63, 63, 0)));
  }

  @ParameterizedTest(name = "{0}% of 63, {1} used, {2} waiting -> {3}")
  @CsvSource({
      "70, 10, 1, 1",   // below threshold, writers waiting: at least one
      "70, 43, 5, 1",
      "90, 1, 1, 1",
      "70, 0, 4, 0",    // nothing used: nothing to reclaim even when writers wait
      "70, 63, 1, 20",  // above threshold: the threshold count wins
      "70, 44, 3, 1",
      "0, 63, 2, 63",
  })
  void waitingWritersGetAtLeastOneSegment(int percent, int usedSegments, int waiting, int expected) {
    assertEquals(expected, policy(percent).segmentsToReclaim(new CacheUsage(SEGS_1G, usedSegments, 0, waiting)));
  }

  @Test
  void setParameterChangesTheThreshold() {
    GcPolicy p = policy(70);
    p.setParameter("percent", "90");
    assertEquals(Map.of("percent", "90"), p.parameters());
    assertEquals(0, p.segmentsToReclaim(used(SEGS_1G, 55)));
    p.setParameter("percent", " 0 ");
    assertEquals(Map.of("percent", "0"), p.parameters());
    assertEquals(55, p.segmentsToReclaim(used(SEGS_1G, 55)));
  }

  @ParameterizedTest
  @NullSource
  @ValueSource(strings = {"91", "-1", "", "bad", "256", "70%", "7.5", "2147483648"})
  void badValuesAreRefusedAndLeaveTheValueUnchanged(String value) {
    GcPolicy p = policy(70);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.setParameter("percent", value));
    assertTrue(e.getMessage().contains("'percent'"), e.getMessage());
    assertTrue(e.getMessage().contains("'" + value + "'"), e.getMessage());
    assertTrue(e.getMessage().contains("0..90"), e.getMessage());
    assertEquals(Map.of("percent", "70"), p.parameters());
    assertEquals(1, p.segmentsToReclaim(used(SEGS_1G, 44)));
  }

  @Test
  void unknownParameterIsRefused() {
    GcPolicy p = policy(70);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.setParameter("gc_percent", "50"));
    assertTrue(e.getMessage().contains("'gc_percent'"), e.getMessage());
    assertTrue(e.getMessage().contains("percent"), e.getMessage());
    assertEquals(Map.of("percent", "70"), p.parameters());
  }

  @ParameterizedTest
  @ValueSource(ints = {-1, 91, 100})
  void createRefusesOutOfRangeConfig(int percent) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> policy(percent));
    assertTrue(e.getMessage().contains("gc.threshold.percent = " + percent), e.getMessage());
    assertTrue(e.getMessage().contains("0..90"), e.getMessage());
    assertTrue(e.getMessage().contains("from test"), e.getMessage());
  }

  /** Exhaustive over small caches: the result equals running dm-pcache's GC loop one segment at a time. */
  @Test
  void matchesTheDmPcacheLoop() {
    for (int percent = 0; percent <= 90; percent++) {
      GcPolicy p = policy(percent);
      for (int total = 1; total <= 128; total++) {
        for (int u = 0; u <= total; u++) {
          int expected = dmPcacheLoop(total, u, percent);
          int actual = p.segmentsToReclaim(used(total, u));
          if (expected != actual) {
            fail("percent " + percent + " total " + total + " used " + u + ": dm-pcache loop reclaims "
                + expected + ", policy says " + actual);
          }
        }
      }
    }
  }

  /** need_gc(): segs_used &lt; n_segs * gc_percent / 100 stops; one segment per round; nothing left stops. */
  private static int dmPcacheLoop(int total, int used, int percent) {
    int reclaimed = 0;
    while (used > 0 && used >= total * percent / 100) {
      used--;
      reclaimed++;
    }
    return reclaimed;
  }

  @Test
  void propertyNeverMoreThanUsedNeverBelowTarget() {
    SplittableRandom random = Seeds.random("ThresholdGcPolicyTest.property");
    for (int i = 0; i < 20_000; i++) {
      int percent = random.nextInt(91);
      int total = random.nextBoolean() ? 1 + random.nextInt(128) : 1 + random.nextInt(1 << 20);
      int usedSegments = random.nextInt(total + 1);
      int dirty = random.nextInt(usedSegments + 1);
      int waiting = random.nextInt(4) == 0 ? 1 + random.nextInt(8) : 0;
      CacheUsage usage = new CacheUsage(total, usedSegments, dirty, waiting);
      GcPolicy p = policy(percent);
      int r = p.segmentsToReclaim(usage);
      String what = usage + " at " + percent + "% -> " + r;

      assertTrue(r >= 0 && r <= usedSegments, what);
      long threshold = (long) total * percent / 100;
      long target = Math.max(0, threshold - 1);
      if (waiting == 0) {
        assertTrue(r == 0 || usedSegments - r >= target, "drove usage below the target: " + what);
        assertEquals(usedSegments >= threshold && usedSegments > 0, r > 0, what);
      } else {
        assertEquals(usedSegments > 0, r > 0, what);
        assertTrue(r <= 1 || usedSegments - r >= target, "drove usage below the target: " + what);
      }
    }
  }
}
