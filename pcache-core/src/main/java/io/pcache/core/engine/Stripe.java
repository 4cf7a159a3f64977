package io.pcache.core.engine;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * The keys of one 4 MiB stripe of the backing device, ordered by offset and never overlapping
 * (dm-pcache's {@code cache_subtree}), behind the stripe's own lock. Every request is cut into
 * pieces that never cross a stripe boundary, so a key lives in exactly one stripe and a request
 * piece takes exactly one stripe lock: there is no global lock on the I/O path.
 *
 * <p>All methods require {@link #lock} to be held by the caller.
 *
 * <h2>Implementation notes</h2>
 *
 * A {@code TreeMap<Long, CacheKey>}: about 110 bytes per key on a 64-bit JVM with compressed
 * oops (40 B map entry, 16 B boxed offset, 56 B key). With 128k keys spread over 128 stripes the
 * tree walks miss the CPU cache at every level, so the number of walks per request is what costs:
 * an overwrite of exactly one existing key takes two (floor + put), a 4 KiB hit read two (floor
 * + higher). The general insert path takes one more per overlapping key.
 */
final class Stripe {

  final ReentrantLock lock = new ReentrantLock();
  private final TreeMap<Long, CacheKey> keys = new TreeMap<>();

  int size() {
    return keys.size();
  }

  /** The keys that overlap {@code [off, end)}, in order (deleting stale ones met on the way). */
  List<CacheKey> overlapping(long off, long end, Predicate<CacheKey> stale) {
    List<CacheKey> result = new ArrayList<>(2);
    Map.Entry<Long, CacheKey> e = keys.floorEntry(off);
    if (e == null || e.getValue().end() <= off) {
      e = keys.higherEntry(off);
    }
    while (e != null && e.getKey() < end) {
      CacheKey k = e.getValue();
      if (stale.test(k)) {
        keys.remove(e.getKey());
      } else if (k.end() > off) {
        result.add(k);
      }
      e = keys.higherEntry(e.getKey());
    }
    return result;
  }

  /**
   * Inserts {@code key}, resolving overlaps as dm-pcache's {@code cache_key_insert} does: the new
   * key always wins. For an existing key T: contained in the new key → deleted; overlapping its
   * head → T's back is cut; overlapping its tail → T's front is cut (a placeholder is deleted);
   * the new key inside T → T is split in two (a placeholder is only cut at the back, so the data
   * its pending read brings still lines up).
   */
  void insert(CacheKey key, Predicate<CacheKey> stale) {
    long ks = key.off;
    long ke = key.end();
    Map.Entry<Long, CacheKey> same = keys.floorEntry(ks);
    if (same != null && same.getKey() == ks && same.getValue().end() == ke) {
      // The common overwrite: one key covers exactly the same range, so nothing else overlaps.
      keys.put(ks, key);
      return;
    }
    for (CacheKey t : overlapping(ks, ke, stale)) {
      long ts = t.off;
      long te = t.end();
      if (ts >= ks) {
        if (te <= ke) {
          keys.remove(ts); // contained in the new key
        } else {
          keys.remove(ts); // overlaps the new key's tail
          if (!t.empty()) {
            t.cutFront(ke - ts);
            keys.put(t.off, t);
          }
        }
      } else if (te > ke) {
        // The new key lies inside t.
        if (t.empty()) {
          t.cutBack(ks - ts);
        } else {
          CacheKey tail = t.tailFrom(ke);
          t.cutBack(ks - ts);
          keys.put(tail.off, tail);
        }
      } else {
        t.cutBack(ks - ts); // overlaps the new key's head
      }
    }
    keys.put(ks, key);
  }

  /** Inserts a key known not to overlap anything (placeholders computed from gaps). */
  void insertGap(CacheKey key) {
    CacheKey previous = keys.put(key.off, key);
    if (previous != null) {
      throw new IllegalStateException("placeholder " + key + " collides with " + previous);
    }
  }

  /** Whether {@code key} (this very object) is still in the stripe. */
  boolean contains(CacheKey key) {
    return keys.get(key.off) == key;
  }

  /** Removes {@code key} if this very object is still in the stripe. */
  boolean remove(CacheKey key) {
    return keys.remove(key.off, key);
  }

  /** Replaces {@code old} (still in the stripe, same offset) by {@code key}. */
  void replace(CacheKey old, CacheKey key) {
    if (old.off != key.off || !keys.replace(old.off, old, key)) {
      throw new IllegalStateException("cannot replace " + old + " by " + key);
    }
  }

  /**
   * Examines up to {@code max} keys starting after offset {@code from} and deletes the stale ones.
   *
   * @return the offset to continue from, or -1 when the end of the stripe was reached
   */
  long deleteStale(Predicate<CacheKey> stale, long from, int max) {
    Iterator<CacheKey> it = keys.tailMap(from, false).values().iterator();
    long last = from;
    for (int n = 0; n < max; n++) {
      if (!it.hasNext()) {
        return -1;
      }
      CacheKey k = it.next();
      last = k.off;
      if (stale.test(k)) {
        it.remove();
      }
    }
    return it.hasNext() ? last : -1;
  }

  /** Every key, in order (for tests and checks). */
  List<CacheKey> all() {
    return new ArrayList<>(keys.values());
  }
}
