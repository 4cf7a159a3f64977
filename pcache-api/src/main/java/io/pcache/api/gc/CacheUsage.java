package io.pcache.api.gc;

/**
 * A snapshot of how full the cache is, handed to a {@link GcPolicy}.
 *
 * @param totalSegments the cache segments in the cache (dm-pcache's {@code cache_segs})
 * @param usedSegments segments that hold data or keys ({@code segs_used})
 * @param dirtySegments used segments that still hold data not yet written back; they cannot be
 *     reclaimed until writeback passes them
 * @param waitingWrites writes currently waiting for a free segment
 */
public record CacheUsage(int totalSegments, int usedSegments, int dirtySegments, int waitingWrites) {

  public CacheUsage {
    if (totalSegments <= 0 || usedSegments < 0 || usedSegments > totalSegments
        || dirtySegments < 0 || dirtySegments > usedSegments || waitingWrites < 0) {
      throw new IllegalArgumentException("inconsistent cache usage: total=" + totalSegments + " used=" + usedSegments
          + " dirty=" + dirtySegments + " waiting=" + waitingWrites);
    }
  }

  /** Used segments as a percentage of all segments, rounded down. */
  public int usedPercent() {
    return (int) (100L * usedSegments / totalSegments);
  }
}
