package io.pcache.core.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * The reference model for {@link StripeTest}: {@link Stripe} as it was before its leaves, two
 * parallel sorted arrays per stripe (commit ac7f680), kept verbatim apart from its name. Simple
 * enough to trust; the leafed {@link Stripe} must give the same answers for every call.
 */
final class ArrayStripeModel {

  private static final int INITIAL = 8;

  final ReentrantLock lock = new ReentrantLock();
  private long[] offs = new long[INITIAL];
  private CacheKey[] keys = new CacheKey[INITIAL];
  private int size;

  int size() {
    return size;
  }

  /** The index of the key at exactly {@code off}, or {@code -(insertion point) - 1}. */
  private int find(long off) {
    return Arrays.binarySearch(offs, 0, size, off);
  }

  /** The index of the last key starting at or before {@code off}, or -1. */
  private int floorIndex(long off) {
    int i = find(off);
    return i >= 0 ? i : -i - 2;
  }

  private void removeAt(int i) {
    int tail = size - i - 1;
    if (tail > 0) {
      System.arraycopy(offs, i + 1, offs, i, tail);
      System.arraycopy(keys, i + 1, keys, i, tail);
    }
    size--;
    keys[size] = null;
  }

  private void insertAt(int i, CacheKey key) {
    if (size == offs.length) {
      int cap = size + (size >> 1) + 1;
      offs = Arrays.copyOf(offs, cap);
      keys = Arrays.copyOf(keys, cap);
    }
    int tail = size - i;
    if (tail > 0) {
      System.arraycopy(offs, i, offs, i + 1, tail);
      System.arraycopy(keys, i, keys, i + 1, tail);
    }
    offs[i] = key.off;
    keys[i] = key;
    size++;
  }

  /** Puts {@code key} at its offset, replacing any key there; returns the one replaced, or null. */
  private CacheKey put(CacheKey key) {
    int i = find(key.off);
    if (i >= 0) {
      CacheKey old = keys[i];
      keys[i] = key;
      return old;
    }
    insertAt(-i - 1, key);
    return null;
  }

  /** Removes whatever key starts at {@code off}. */
  private void removeOffset(long off) {
    int i = find(off);
    if (i >= 0) {
      removeAt(i);
    }
  }

  /** The keys that overlap {@code [off, end)}, in order (deleting stale ones met on the way). */
  List<CacheKey> overlapping(long off, long end, Predicate<CacheKey> stale) {
    List<CacheKey> result = new ArrayList<>(2);
    int i = floorIndex(off);
    if (i < 0 || keys[i].end() <= off) {
      i++;
    }
    while (i < size && offs[i] < end) {
      CacheKey k = keys[i];
      if (stale.test(k)) {
        removeAt(i);
      } else {
        if (k.end() > off) {
          result.add(k);
        }
        i++;
      }
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
    int at = find(ks);
    if (at >= 0 && keys[at].end() == ke) {
      // The common overwrite: one key covers exactly the same range, so nothing else overlaps.
      keys[at] = key;
      return;
    }
    if (at < 0) {
      // A new key in a gap (the common write into a cache that is filling): only the keys on
      // either side of the insertion point can overlap it (the keys never overlap each other).
      // When neither does, insert right here: one binary search instead of three.
      int ip = -at - 1;
      if ((ip == 0 || keys[ip - 1].end() <= ks) && (ip == size || offs[ip] >= ke)) {
        insertAt(ip, key);
        return;
      }
    }
    for (CacheKey t : overlapping(ks, ke, stale)) {
      long ts = t.off;
      long te = t.end();
      if (ts >= ks) {
        if (te <= ke) {
          removeOffset(ts); // contained in the new key
        } else {
          removeOffset(ts); // overlaps the new key's tail
          if (!t.empty()) {
            t.cutFront(ke - ts);
            put(t);
          }
        }
      } else if (te > ke) {
        // The new key lies inside t.
        if (t.empty()) {
          t.cutBack(ks - ts);
        } else {
          CacheKey tail = t.tailFrom(ke);
          t.cutBack(ks - ts);
          put(tail);
        }
      } else {
        t.cutBack(ks - ts); // overlaps the new key's head
      }
    }
    put(key);
  }

  /** Inserts a key known not to overlap anything (placeholders computed from gaps). */
  void insertGap(CacheKey key) {
    int i = find(key.off);
    if (i >= 0) {
      throw new IllegalStateException("placeholder " + key + " collides with " + keys[i]);
    }
    insertAt(-i - 1, key);
  }

  /** Whether {@code key} (this very object) is still in the stripe. */
  boolean contains(CacheKey key) {
    int i = find(key.off);
    return i >= 0 && keys[i] == key;
  }

  /** Removes {@code key} if this very object is still in the stripe. */
  boolean remove(CacheKey key) {
    int i = find(key.off);
    if (i >= 0 && keys[i] == key) {
      removeAt(i);
      return true;
    }
    return false;
  }

  /** Replaces {@code old} (still in the stripe, same offset) by {@code key}. */
  void replace(CacheKey old, CacheKey key) {
    int i = old.off == key.off ? find(old.off) : -1;
    if (i < 0 || keys[i] != old) {
      throw new IllegalStateException("cannot replace " + old + " by " + key);
    }
    keys[i] = key;
  }

  /**
   * Examines up to {@code max} keys starting after offset {@code from} and deletes the stale ones
   * (in one pass: the survivors are moved down once). Gives back memory when the stripe shrank to
   * a quarter of its arrays.
   *
   * @return the offset to continue from, or -1 when the end of the stripe was reached
   */
  long deleteStale(Predicate<CacheKey> stale, long from, int max) {
    int start = from == Long.MIN_VALUE ? 0 : floorIndex(from) + 1;
    int stop = (int) Math.min(size, (long) start + max);
    int w = start;
    long last = from;
    for (int r = start; r < stop; r++) {
      CacheKey k = keys[r];
      last = k.off;
      if (!stale.test(k)) {
        offs[w] = offs[r];
        keys[w] = k;
        w++;
      }
    }
    int removed = stop - w;
    if (removed > 0) {
      int tail = size - stop;
      System.arraycopy(offs, stop, offs, w, tail);
      System.arraycopy(keys, stop, keys, w, tail);
      Arrays.fill(keys, size - removed, size, null);
      size -= removed;
    }
    if (offs.length > 4 * INITIAL && size < offs.length / 4) {
      int cap = Math.max(INITIAL, size + (size >> 1));
      offs = Arrays.copyOf(offs, cap);
      keys = Arrays.copyOf(keys, cap);
    }
    return stop - removed < size ? last : -1;
  }

  /** Every key, in order (for tests and checks). */
  List<CacheKey> all() {
    return new ArrayList<>(Arrays.asList(keys).subList(0, size));
  }
}
