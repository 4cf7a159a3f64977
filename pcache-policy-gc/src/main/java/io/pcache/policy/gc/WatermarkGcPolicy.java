package io.pcache.policy.gc;

import io.pcache.api.gc.CacheUsage;
import io.pcache.api.gc.GcPolicy;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * High/low watermark GC: nothing happens below the high watermark; once usage reaches it, enough
 * segments are reclaimed to bring usage down to the low watermark. While writers wait for a free
 * segment at least one segment is reclaimed.
 *
 * <p>Both watermarks are whole percentages in 1..95 with low strictly below high. They can be
 * changed at run time with {@code setParameter("high" | "low", "N")}; the pair is replaced
 * atomically, so a reader never sees a low watermark at or above the high one. Thread-safe.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>The high mark rounds up and the low mark rounds down, both in whole segments:
 *
 * <pre>
 *   highMark = ceil(total * high / 100)
 *   lowMark  = floor(total * low / 100)
 *   reclaim  = used &gt;= highMark ? used - lowMark : 0
 * </pre>
 *
 * so reclaiming starts only once usage has really reached {@code high} percent and never leaves
 * less than {@code low} percent in use. Because {@code low < high}, {@code lowMark < highMark}
 * always holds (floor(a) &le; a &lt; b &le; ceil(b)), so a triggered reclaim is at least one segment.
 *
 * <p>With numbers: a 1 GiB cache holds 63 segments of 16 MiB. With the defaults 80/60, highMark =
 * ceil(50.4) = 51 and lowMark = floor(37.8) = 37. At 50 used nothing happens; at 51 used, 14
 * segments (224 MiB) are reclaimed, back to 37 (58.7 %). A 64 GiB cache (4095 segments) starts at
 * 3276 and goes back to 2457: each round frees 819 segments, about 12.8 GiB, which is the point of
 * watermarks: fewer, larger GC rounds than dm-pcache's one-segment-at-a-time threshold.
 *
 * <p>The calculation is stateless: it looks at the usage only. If the engine can reclaim fewer
 * segments than asked (the rest are still dirty) and usage falls below the high mark, the policy
 * asks for nothing more until usage reaches the high mark again. That keeps the policy free of
 * state that could go stale between calls from different threads; the effect is the same as a
 * hysteresis whenever writeback keeps up. dm-writecache similarly starts writeback at
 * {@code high_watermark} and stops at {@code low_watermark}.
 */
final class WatermarkGcPolicy implements GcPolicy {

  static final int MIN_PERCENT = 1;
  static final int MAX_PERCENT = 95;
  static final int DEFAULT_HIGH = 80;
  static final int DEFAULT_LOW = 60;

  static final String HIGH = "high";
  static final String LOW = "low";

  /** The two watermarks, always with {@code low < high}. */
  record Marks(int high, int low) {
    Marks {
      if (high < MIN_PERCENT || high > MAX_PERCENT || low < MIN_PERCENT || low > MAX_PERCENT || low >= high) {
        throw new IllegalArgumentException("GC watermarks high " + high + "%, low " + low
            + "% are invalid: both must lie in " + MIN_PERCENT + ".." + MAX_PERCENT + " and low below high");
      }
    }
  }

  private final AtomicReference<Marks> marks;

  /**
   * @throws IllegalArgumentException when a watermark lies outside 1..95 or low is not below high
   */
  WatermarkGcPolicy(int high, int low) {
    this.marks = new AtomicReference<>(new Marks(high, low));
  }

  /** The smallest used-segment count at which reclaiming starts: ceil(total · high / 100). */
  static int highMark(int totalSegments, int high) {
    return (int) (((long) totalSegments * high + 99) / 100);
  }

  /** The used-segment count reclaiming brings the cache down to: floor(total · low / 100). */
  static int lowMark(int totalSegments, int low) {
    return (int) ((long) totalSegments * low / 100);
  }

  @Override
  public int segmentsToReclaim(CacheUsage usage) {
    Marks m = marks.get();
    int used = usage.usedSegments();
    int total = usage.totalSegments();
    int reclaim = used >= highMark(total, m.high()) ? used - lowMark(total, m.low()) : 0;
    if (usage.waitingWrites() > 0) {
      reclaim = Math.max(reclaim, Math.min(used, 1));
    }
    return reclaim;
  }

  @Override
  public Map<String, String> parameters() {
    Marks m = marks.get();
    return Map.of(HIGH, Integer.toString(m.high()), LOW, Integer.toString(m.low()));
  }

  /**
   * Changes one watermark: key {@code high} or {@code low}, a whole number in 1..95 that keeps low
   * below high.
   *
   * @throws IllegalArgumentException for another key or a bad value; both watermarks are unchanged
   */
  @Override
  public void setParameter(String key, String value) {
    if (!HIGH.equals(key) && !LOW.equals(key)) {
      throw new IllegalArgumentException("GC policy 'watermark' has no parameter '" + key
          + "' (it has: " + HIGH + ", " + LOW + ")");
    }
    marks.updateAndGet(m -> {
      boolean isHigh = HIGH.equals(key);
      int current = isHigh ? m.high() : m.low();
      int v = Percent.parseParameter("watermark", key, value, MIN_PERCENT, MAX_PERCENT, current);
      if (isHigh && v <= m.low()) {
        throw new IllegalArgumentException("GC policy 'watermark': parameter 'high' = '" + value
            + "' must be above low = " + m.low() + " (keeping " + current + ")");
      }
      if (!isHigh && v >= m.high()) {
        throw new IllegalArgumentException("GC policy 'watermark': parameter 'low' = '" + value
            + "' must be below high = " + m.high() + " (keeping " + current + ")");
      }
      return isHigh ? new Marks(v, m.low()) : new Marks(m.high(), v);
    });
  }

  @Override
  public String toString() {
    Marks m = marks.get();
    return "watermark(high " + m.high() + "%, low " + m.low() + "%)";
  }
}
