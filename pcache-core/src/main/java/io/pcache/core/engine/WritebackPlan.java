package io.pcache.core.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * What one writeback batch writes to the backing device: the final version of every byte the
 * batch's keys cover, as extents that are contiguous both on the backing device and in the cache.
 *
 * <h2>Why a batch may skip and merge</h2>
 *
 * Writeback's promise is about flush points only: when it flushes the backing device and then
 * moves dirty_tail past the batch, the backing device must hold exactly the state after the last
 * key of the batch (a prefix of the write history, since every earlier batch is already there).
 * Between two flushes nothing is promised (the backing device may reorder or drop unflushed
 * writes anyway, and a crash in between replays the whole batch again from the old dirty_tail). So
 * <ul>
 *   <li>a key superseded by a later key of the <em>same</em> batch need not be written at all: the
 *       state at the batch's flush point has the later data there, whatever happened before; and
 *       the later key is written in the same batch, before the same flush;
 *   <li>the surviving pieces never overlap, so they may go out in any order and in parallel;
 *   <li>pieces that are adjacent on the backing device and whose data is adjacent in the cache
 *       (sequential writes land next to each other) go out as one write.
 * </ul>
 * A key superseded by a key of a <em>later</em> batch is still written in its own batch: that
 * batch's flush point must show it.
 *
 * <h2>Implementation notes</h2>
 *
 * The keys are sorted by (offset, log position), one {@code long} each; runs of keys that overlap
 * are resolved alone. A run of identical ranges (the same block written again: with 4 KiB random
 * writes over 512 MiB about 16 per batch of 2048 keys) keeps its last key; any other overlap is
 * resolved by inserting the run's keys in log order into a small {@link Stripe}, the index's own
 * overlap rules. This costs O(n log n) per batch, where inserting every key into one ordered map
 * cost a tree walk (and a cache miss per level) per key.
 */
final class WritebackPlan {

  /** One backing write: {@code len} bytes at {@code off}, from cache segment {@code segId} at {@code segOff}. */
  record Extent(long off, int len, int segId, int segOff) {

    long end() {
      return off + len;
    }
  }

  private WritebackPlan() {}

  /**
   * @param keys the batch's dirty keys in log order (they may be changed: trimmed or split)
   * @param maxMerge the largest merged extent in bytes
   */
  static List<Extent> plan(List<CacheKey> keys, int maxMerge) {
    int n = keys.size();
    int[] order = sortedOrder(keys);
    List<CacheKey> survivors = new ArrayList<>(n);
    int i = 0;
    while (i < n) {
      CacheKey first = keys.get(order[i]);
      long runEnd = first.end();
      boolean identical = true;
      int j = i + 1;
      while (j < n && keys.get(order[j]).off < runEnd) {
        CacheKey k = keys.get(order[j]);
        identical &= k.off == first.off && k.len == first.len;
        runEnd = Math.max(runEnd, k.end());
        j++;
      }
      if (j - i == 1 || identical) {
        survivors.add(keys.get(order[j - 1])); // sorted by log position within one offset: the last wins
      } else {
        int[] run = Arrays.copyOfRange(order, i, j);
        Arrays.sort(run); // log order
        Stripe s = new Stripe();
        for (int r : run) {
          s.insert(keys.get(r), k -> false);
        }
        survivors.addAll(s.all());
      }
      i = j;
    }
    List<Extent> out = new ArrayList<>(survivors.size());
    long off = 0;
    int len = 0;
    int segId = -1;
    int segOff = 0;
    for (CacheKey k : survivors) {
      if (len > 0 && off + len == k.off && segId == k.segId && segOff + len == k.segOff && len + k.len <= maxMerge) {
        len += k.len;
        continue;
      }
      if (len > 0) {
        out.add(new Extent(off, len, segId, segOff));
      }
      off = k.off;
      len = k.len;
      segId = k.segId;
      segOff = k.segOff;
    }
    if (len > 0) {
      out.add(new Extent(off, len, segId, segOff));
    }
    return out;
  }

  /** Indexes into {@code keys} sorted by (offset, index). */
  private static int[] sortedOrder(List<CacheKey> keys) {
    int n = keys.size();
    boolean packable = n < (1 << 20);
    for (int i = 0; i < n && packable; i++) {
      long off = keys.get(i).off;
      packable = off >= 0 && off < (1L << 52) && (off & 511) == 0;
    }
    int[] order = new int[n];
    if (packable) {
      // Sector number (at most 43 bits) above a 20-bit index: one primitive sort.
      long[] packed = new long[n];
      for (int i = 0; i < n; i++) {
        packed[i] = (keys.get(i).off >>> 9) << 20 | i;
      }
      Arrays.sort(packed);
      for (int i = 0; i < n; i++) {
        order[i] = (int) (packed[i] & ((1 << 20) - 1));
      }
      return order;
    }
    Integer[] boxed = new Integer[n];
    for (int i = 0; i < n; i++) {
      boxed[i] = i;
    }
    Arrays.sort(boxed, Comparator.<Integer>comparingLong(i -> keys.get(i).off).thenComparingInt(i -> i));
    for (int i = 0; i < n; i++) {
      order[i] = boxed[i];
    }
    return order;
  }
}
