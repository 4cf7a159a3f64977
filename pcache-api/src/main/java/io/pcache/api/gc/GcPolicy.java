package io.pcache.api.gc;

import java.util.Map;

/**
 * Decides when and how much of the cache to reclaim. The engine reclaims segments in log order
 * (oldest first, never past the writeback position), exactly as dm-pcache does; the policy only
 * says how many.
 *
 * <p>The engine calls {@link #segmentsToReclaim} from its GC thread, periodically and whenever a
 * segment is used or freed, and from the control socket when parameters change; implementations
 * must be thread-safe. They must be fast (no I/O, no blocking).
 */
public interface GcPolicy {

  /**
   * How many segments to reclaim now; 0 for none. The engine reclaims at most what it can (clean
   * segments before the writeback position) and asks again later.
   */
  int segmentsToReclaim(CacheUsage usage);

  /** The current parameters, by key, for status output and the control socket. */
  default Map<String, String> parameters() {
    return Map.of();
  }

  /**
   * Changes a parameter at run time.
   *
   * @throws IllegalArgumentException for an unknown key or a bad value, naming both and the
   *     allowed range; nothing is changed then
   */
  default void setParameter(String key, String value) {
    throw new IllegalArgumentException("GC policy has no parameter '" + key + "'");
  }
}
