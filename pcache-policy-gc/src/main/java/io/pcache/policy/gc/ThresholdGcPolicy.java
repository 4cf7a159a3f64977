package io.pcache.policy.gc;

import io.pcache.api.gc.CacheUsage;
import io.pcache.api.gc.GcPolicy;
import java.util.Map;

/**
 * dm-pcache's GC rule: reclaim the oldest segments while the number of used segments is at or
 * above {@code cache_segs * gc_percent / 100}.
 *
 * <p>{@link #segmentsToReclaim} returns how many segments take the cache just below that
 * threshold, at least one while writers wait for a free segment, and never more than are used.
 * The percentage can be changed at run time with {@code setParameter("percent", "N")}; it is
 * thread-safe.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>dm-pcache ({@code drivers/md/dm-pcache/cache_gc.c}, {@code need_gc()}; spec/dm-pcache.md §6
 * step 3) computes, with integer arithmetic,
 *
 * <pre>
 *   segs_gc_threshold = n_segs * gc_percent / 100
 *   if (segs_used &lt; segs_gc_threshold) stop;   // else reclaim one more kset and look again
 * </pre>
 *
 * so it keeps reclaiming while {@code used >= threshold} and stops at {@code threshold - 1} used
 * segments. This policy returns that count at once: {@code min(used, used - threshold + 1)} when
 * {@code used >= threshold}, else 0. The comparison is on segment counts, not on a rounded
 * percentage: {@code used * 100 / total >= percent} would start one segment later whenever the
 * threshold is not a whole number of segments.
 *
 * <p>With numbers: a 1 GiB cache holds (1 GiB − 20 KiB of metadata) / 16 MiB = 63 segments. At
 * the default 70 % the threshold is 63 · 70 / 100 = 44.1 → 44 segments (69.8 %). With 43 used,
 * nothing happens; with exactly 44 used, 1 segment is reclaimed (→ 43); with all 63 used, 20 are
 * reclaimed (→ 43). At 90 % the threshold is 56 (63 · 90 / 100 = 56.7 → 56). The smallest cache
 * dm-pcache accepts (512 MiB, 31 segments) starts at 31 · 70 / 100 = 21.
 *
 * <p>{@code gc_percent} 0 gives a threshold of 0, which every usage reaches: everything is
 * reclaimed, which in practice means every segment writeback has already passed. That is how a
 * cache is drained before removal (dm-pcache's test: "gc_percent 0, wait for key_head ==
 * key_tail"). Tiny caches behave the same way through the integer division (1 segment at 70 %:
 * threshold 0), exactly as in dm-pcache.
 *
 * <p>The count may include dirty segments: the engine reclaims only clean segments behind the
 * writeback position and asks again later, as dm-pcache's loop does when it reaches
 * {@code dirty_tail}. When {@link CacheUsage#waitingWrites()} is positive the result is at least
 * 1 (if anything is used), so that blocked writers make progress even below the threshold; the
 * kernel has no such rule because there a full cache is always above 90 %.
 */
final class ThresholdGcPolicy implements GcPolicy {

  /** dm-pcache's {@code PCACHE_CACHE_GC_PERCENT_MIN}. */
  static final int MIN_PERCENT = 0;
  /** dm-pcache's {@code PCACHE_CACHE_GC_PERCENT_MAX}. */
  static final int MAX_PERCENT = 90;
  /** dm-pcache's {@code PCACHE_CACHE_GC_PERCENT_DEFAULT}. */
  static final int DEFAULT_PERCENT = 70;

  /** The name of the run-time parameter. */
  static final String PERCENT = "percent";

  private volatile int percent;

  /**
   * @throws IllegalArgumentException when {@code percent} lies outside 0..90
   */
  ThresholdGcPolicy(int percent) {
    if (percent < MIN_PERCENT || percent > MAX_PERCENT) {
      throw new IllegalArgumentException("GC threshold " + percent + "% is out of range "
          + MIN_PERCENT + ".." + MAX_PERCENT);
    }
    this.percent = percent;
  }

  /** The number of used segments from which on segments are reclaimed. */
  static int thresholdSegments(int totalSegments, int percent) {
    return (int) ((long) totalSegments * percent / 100);
  }

  @Override
  public int segmentsToReclaim(CacheUsage usage) {
    int used = usage.usedSegments();
    int threshold = thresholdSegments(usage.totalSegments(), percent);
    int reclaim = used >= threshold ? Math.min(used, used - threshold + 1) : 0;
    if (usage.waitingWrites() > 0) {
      reclaim = Math.max(reclaim, Math.min(used, 1));
    }
    return reclaim;
  }

  @Override
  public Map<String, String> parameters() {
    return Map.of(PERCENT, Integer.toString(percent));
  }

  /**
   * Changes the threshold: key {@code percent}, a whole number in 0..90.
   *
   * @throws IllegalArgumentException for another key or a bad value; the threshold is unchanged
   */
  @Override
  public void setParameter(String key, String value) {
    if (!PERCENT.equals(key)) {
      throw new IllegalArgumentException("GC policy 'threshold' has no parameter '" + key
          + "' (it has: " + PERCENT + ")");
    }
    percent = Percent.parseParameter("threshold", key, value, MIN_PERCENT, MAX_PERCENT, percent);
  }

  @Override
  public String toString() {
    return "threshold(" + percent + "%)";
  }
}
