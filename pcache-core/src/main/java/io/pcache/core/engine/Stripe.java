package io.pcache.core.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
 * A sorted sequence of small leaves, each holding up to 64 keys as two parallel sorted arrays (the
 * keys' offsets, {@code long[]}, and the keys), plus a routing array of each leaf's first offset. A
 * lookup is a binary search over the routing array, then one inside a leaf. Because a leaf is found
 * by its first offset, the last key starting at or before an offset (the only one that can reach
 * into it from the left) is always in the leaf the routing search gives.
 *
 * <p>History: a {@code TreeMap<Long, CacheKey>}, whose walks were the largest single cost of a
 * 4 KiB write (with 128k keys each of the ten levels of a walk missed the CPU cache), was replaced by
 * one pair of sorted arrays per stripe; those made an insert in the middle shift the tail of both
 * arrays, about 6 KB for a new 4 KiB key in a stripe of 1024 (50 KB for 512-byte keys filling a
 * stripe to 8192), with the G1 card marks over the shifted references, and with two writers on two
 * cores the shifted cache lines moved between the cores. With leaves an insert shifts at most 63
 * entries (756 bytes), and a full leaf splits in two halves (a key appended to the last leaf, the
 * sequential fill, starts a new leaf instead, so a sequential fill leaves full leaves behind).
 *
 * <p>A leaf's arrays start at 8 entries and double up to 64; random inserts leave leaves between
 * half and fully filled. A leaf that falls under 16 keys by removals is merged into a neighbour
 * when the two fit in 48 (leaving room before the next split), or else has its arrays halved when
 * they are three quarters empty; an empty leaf is dropped. Memory per key stays close to that of
 * the single pair of arrays: 8 B offset, 4 B reference, the 56 B key, the arrays' slack, and per
 * leaf about 70 B (the leaf, two array headers, its routing entry). Measured heap bytes per key,
 * 200k keys, single pair of arrays against leaves: 4 KiB apart in order ({@code IndexMemoryTest})
 * 72 against 69 (the fill leaves full leaves where the arrays grew by half); in random order 71
 * against 77 (leaves split half full); 512-byte keys, 8192 per stripe, random order, 71 against 76;
 * half of random 4 KiB keys then deleted by {@link #deleteStale} 88 against 95.
 *
 * <p>Measured speed (2-core test machine, medians of 7 rounds). 512-byte keys inserted in random
 * order into 16 stripes (up to 6000 keys per stripe): one thread 430 ns per insert with the single
 * pair of arrays against 330 with leaves; two threads sharing the stripes 1070 against 430 (the
 * long shifts under the stripe lock made the other thread wait). Random 4 KiB keys into 256
 * stripes (up to 3000 keys per stripe) cost the same in both designs, 250 to 400 ns, and so did
 * {@code BurstProbe} (4 KiB random writes into an empty cache, 1 and 2 threads, within its noise of
 * ±15 %). A JFR profile of that probe puts about a fifth of the samples in {@link #insert} for both
 * designs, and there on cache misses rather than on the shift: on the key before the insertion
 * point (loaded to check its end) and on the binary search. With each write streaming 4 KiB of data
 * through the caches the index of a random stripe is cold; keeping the keys' lengths in the leaves
 * (so that the check loads no key) moved those samples to the lengths array and the search without
 * lowering them, so that was left out.
 */
final class Stripe {

  /** Most keys in one leaf. */
  static final int LEAF_MAX = 64;

  private static final int INITIAL = 8;
  private static final int MERGE_BELOW = LEAF_MAX / 4;
  private static final int MERGE_FIT = LEAF_MAX * 3 / 4;
  private static final Leaf[] NO_LEAVES = new Leaf[0];
  private static final long[] NO_FIRSTS = new long[0];

  /** Up to {@link #LEAF_MAX} keys in order; never empty while in a stripe. */
  private static final class Leaf {
    long[] offs;
    CacheKey[] keys;
    int n;

    Leaf(int capacity) {
      offs = new long[capacity];
      keys = new CacheKey[capacity];
    }

    /** Index of the key at exactly {@code off}, or {@code -(insertion point) - 1}. */
    int search(long off) {
      return Arrays.binarySearch(offs, 0, n, off);
    }

    void resize(int capacity) {
      offs = Arrays.copyOf(offs, capacity);
      keys = Arrays.copyOf(keys, capacity);
    }
  }

  final ReentrantLock lock = new ReentrantLock();
  private Leaf[] leaves = NO_LEAVES;
  private long[] firsts = NO_FIRSTS; // firsts[j] == leaves[j].offs[0]
  private int nLeaves;
  private int size;

  int size() {
    return size;
  }

  /** The leaf that holds the last key starting at or before {@code off}, or -1 if there is none. */
  private int leafOf(long off) {
    int r = Arrays.binarySearch(firsts, 0, nLeaves, off);
    return r >= 0 ? r : -r - 2;
  }

  private static long pos(int leaf, int i) {
    return (long) leaf << 32 | i;
  }

  private static int leafOfPos(long pos) {
    return (int) (pos >>> 32);
  }

  private static int indexOfPos(long pos) {
    return (int) pos;
  }

  /** The position of the first key starting after {@code off} ({@code nLeaves, 0} when none). */
  private long after(long off) {
    int j = leafOf(off);
    if (j < 0) {
      return pos(0, 0);
    }
    Leaf l = leaves[j];
    int r = l.search(off);
    int i = r >= 0 ? r + 1 : -r - 1;
    return i < l.n ? pos(j, i) : pos(j + 1, 0);
  }

  private void addLeaf(int j, Leaf leaf) {
    if (nLeaves == leaves.length) {
      int cap = Math.max(4, nLeaves + (nLeaves >> 1));
      leaves = Arrays.copyOf(leaves, cap);
      firsts = Arrays.copyOf(firsts, cap);
    }
    System.arraycopy(leaves, j, leaves, j + 1, nLeaves - j);
    System.arraycopy(firsts, j, firsts, j + 1, nLeaves - j);
    leaves[j] = leaf;
    firsts[j] = leaf.n > 0 ? leaf.offs[0] : 0; // an empty new leaf gets its first key right away
    nLeaves++;
  }

  private void dropLeaf(int j) {
    System.arraycopy(leaves, j + 1, leaves, j, nLeaves - j - 1);
    System.arraycopy(firsts, j + 1, firsts, j, nLeaves - j - 1);
    nLeaves--;
    leaves[nLeaves] = null;
  }

  /**
   * Inserts {@code key} at index {@code i} of leaf {@code j} ({@code j == -1}: before every key),
   * where it belongs in order; splits a full leaf.
   */
  private void insertAt(int j, int i, CacheKey key) {
    if (j < 0) {
      if (nLeaves == 0) {
        addLeaf(0, new Leaf(INITIAL));
      }
      j = 0;
      i = 0;
    }
    Leaf l = leaves[j];
    if (l.n == LEAF_MAX) {
      if (i == LEAF_MAX && j + 1 < nLeaves && leaves[j + 1].n < LEAF_MAX) {
        j++; // between two leaves: the front of the next one has room
        i = 0;
        l = leaves[j];
      } else if (i == LEAF_MAX || i == 0) {
        // At either end of a full leaf (a sequential fill): a new leaf, the full one stays full.
        Leaf fresh = new Leaf(INITIAL);
        if (i != 0) {
          j++;
        }
        addLeaf(j, fresh);
        l = fresh;
        i = 0;
      } else {
        int half = LEAF_MAX / 2;
        Leaf right = new Leaf(LEAF_MAX);
        System.arraycopy(l.offs, half, right.offs, 0, LEAF_MAX - half);
        System.arraycopy(l.keys, half, right.keys, 0, LEAF_MAX - half);
        Arrays.fill(l.keys, half, LEAF_MAX, null);
        right.n = LEAF_MAX - half;
        l.n = half;
        addLeaf(j + 1, right);
        if (i > half) {
          j++;
          i -= half;
          l = right;
        }
      }
    }
    if (l.n == l.offs.length) {
      l.resize(Math.min(LEAF_MAX, l.n * 2));
    }
    int tail = l.n - i;
    if (tail > 0) {
      System.arraycopy(l.offs, i, l.offs, i + 1, tail);
      System.arraycopy(l.keys, i, l.keys, i + 1, tail);
    }
    l.offs[i] = key.off;
    l.keys[i] = key;
    l.n++;
    size++;
    if (i == 0) {
      firsts[j] = key.off;
    }
  }

  private void removeAt(int j, int i) {
    Leaf l = leaves[j];
    int tail = l.n - i - 1;
    if (tail > 0) {
      System.arraycopy(l.offs, i + 1, l.offs, i, tail);
      System.arraycopy(l.keys, i + 1, l.keys, i, tail);
    }
    l.n--;
    l.keys[l.n] = null;
    size--;
    if (l.n == 0) {
      dropLeaf(j);
      return;
    }
    if (i == 0) {
      firsts[j] = l.offs[0];
    }
    if (l.n < MERGE_BELOW) {
      shrink(j);
    }
  }

  /**
   * A leaf got small: merges it into a neighbour when both fit in {@link #MERGE_FIT}, else halves
   * its arrays when they are three quarters empty.
   *
   * @return how many keys came before leaf {@code j}'s in the leaf they are now in (0 if not merged
   *     into the previous leaf)
   */
  private int shrink(int j) {
    Leaf l = leaves[j];
    if (j > 0 && leaves[j - 1].n + l.n <= MERGE_FIT) {
      Leaf prev = leaves[j - 1];
      int before = prev.n;
      append(prev, l);
      dropLeaf(j);
      return before;
    }
    if (j + 1 < nLeaves && leaves[j + 1].n + l.n <= MERGE_FIT) {
      append(l, leaves[j + 1]);
      dropLeaf(j + 1);
      return 0;
    }
    if (l.offs.length > INITIAL && l.n <= l.offs.length / 4) {
      l.resize(l.offs.length / 2);
    }
    return 0;
  }

  private static void append(Leaf to, Leaf from) {
    int n = to.n + from.n;
    if (n > to.offs.length) {
      to.resize(Math.min(LEAF_MAX, Math.max(INITIAL, Integer.highestOneBit(n - 1) << 1)));
    }
    System.arraycopy(from.offs, 0, to.offs, to.n, from.n);
    System.arraycopy(from.keys, 0, to.keys, to.n, from.n);
    to.n = n;
  }

  /** The position of the key that starts at exactly {@code off}, or -1. */
  private long find(long off) {
    int j = leafOf(off);
    if (j < 0) {
      return -1;
    }
    int i = leaves[j].search(off);
    return i >= 0 ? pos(j, i) : -1;
  }

  private CacheKey keyAt(long pos) {
    return leaves[leafOfPos(pos)].keys[indexOfPos(pos)];
  }

  /**
   * Puts {@code key} at its offset; a key already there is replaced when {@code replace}, else an
   * {@link IllegalStateException}.
   */
  private void place(CacheKey key, boolean replace) {
    int j = leafOf(key.off);
    if (j < 0) {
      insertAt(-1, 0, key);
      return;
    }
    Leaf l = leaves[j];
    int i = l.search(key.off);
    if (i < 0) {
      insertAt(j, -i - 1, key);
    } else if (replace) {
      l.keys[i] = key;
    } else {
      throw new IllegalStateException("placeholder " + key + " collides with " + l.keys[i]);
    }
  }

  /** Puts {@code key} at its offset, replacing any key there. */
  private void put(CacheKey key) {
    place(key, true);
  }

  /** Removes whatever key starts at {@code off}. */
  private void removeOffset(long off) {
    long p = find(off);
    if (p >= 0) {
      removeAt(leafOfPos(p), indexOfPos(p));
    }
  }

  /** The keys that overlap {@code [off, end)}, in order (deleting stale ones met on the way). */
  List<CacheKey> overlapping(long off, long end, Predicate<CacheKey> stale) {
    List<CacheKey> result = new ArrayList<>(2);
    int j = leafOf(off);
    int i = 0;
    if (j < 0) {
      j = 0;
    } else {
      Leaf l = leaves[j];
      int r = l.search(off);
      i = r >= 0 ? r : -r - 2; // the floor: in this leaf, which starts at or before off
      if (l.keys[i].end() <= off) {
        i++;
      }
    }
    while (j < nLeaves) {
      Leaf l = leaves[j];
      if (i == l.n) {
        j++;
        i = 0;
        continue;
      }
      if (l.offs[i] >= end) {
        break;
      }
      CacheKey k = l.keys[i];
      if (stale.test(k)) {
        long ko = l.offs[i];
        removeAt(j, i); // may drop or merge leaves: find the next key again
        long p = after(ko);
        j = leafOfPos(p);
        i = indexOfPos(p);
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
    int j = leafOf(ks);
    if (j >= 0) {
      Leaf l = leaves[j];
      int r = l.search(ks);
      if (r >= 0) {
        if (l.keys[r].end() == ke) {
          // The common overwrite: one key covers exactly the same range, so nothing else overlaps.
          l.keys[r] = key;
          return;
        }
      } else {
        // A new key in a gap (the common write into a cache that is filling): only the keys on
        // either side of the insertion point can overlap it (the keys never overlap each other).
        // When neither does, insert right here: one search instead of three. The key before is
        // in this leaf (it starts at or before ks); the one after may start the next leaf.
        int ip = -r - 1;
        if (l.keys[ip - 1].end() <= ks
            && (ip < l.n ? l.offs[ip] >= ke : j + 1 == nLeaves || firsts[j + 1] >= ke)) {
          insertAt(j, ip, key);
          return;
        }
      }
    } else if (nLeaves == 0 || firsts[0] >= ke) {
      insertAt(-1, 0, key);
      return;
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
    place(key, false);
  }

  /** Whether {@code key} (this very object) is still in the stripe. */
  boolean contains(CacheKey key) {
    long p = find(key.off);
    return p >= 0 && keyAt(p) == key;
  }

  /** Removes {@code key} if this very object is still in the stripe. */
  boolean remove(CacheKey key) {
    long p = find(key.off);
    if (p >= 0 && keyAt(p) == key) {
      removeAt(leafOfPos(p), indexOfPos(p));
      return true;
    }
    return false;
  }

  /** Replaces {@code old} (still in the stripe, same offset) by {@code key}. */
  void replace(CacheKey old, CacheKey key) {
    long p = old.off == key.off ? find(old.off) : -1;
    if (p < 0 || keyAt(p) != old) {
      throw new IllegalStateException("cannot replace " + old + " by " + key);
    }
    leaves[leafOfPos(p)].keys[indexOfPos(p)] = key;
  }

  /**
   * Examines up to {@code max} keys starting after offset {@code from} and deletes the stale ones
   * (in one pass per leaf: the survivors are moved down once). Gives back memory as leaves empty or
   * shrink (see the class notes).
   *
   * @return the offset to continue from, or -1 when the end of the stripe was reached
   */
  long deleteStale(Predicate<CacheKey> stale, long from, int max) {
    long p = after(from);
    int j = leafOfPos(p);
    int i = indexOfPos(p);
    long last = from;
    long budget = max;
    while (budget > 0 && j < nLeaves) {
      Leaf l = leaves[j];
      int stop = (int) Math.min(l.n, i + budget);
      budget -= stop - i;
      int w = i;
      for (int r = i; r < stop; r++) {
        CacheKey k = l.keys[r];
        last = k.off;
        if (!stale.test(k)) {
          l.offs[w] = l.offs[r];
          l.keys[w] = k;
          w++;
        }
      }
      int removed = stop - w;
      if (removed > 0) {
        System.arraycopy(l.offs, stop, l.offs, w, l.n - stop);
        System.arraycopy(l.keys, stop, l.keys, w, l.n - stop);
        Arrays.fill(l.keys, l.n - removed, l.n, null);
        l.n -= removed;
        size -= removed;
        if (l.n == 0) {
          dropLeaf(j); // j is now the next leaf
          i = 0;
          continue;
        }
        firsts[j] = l.offs[0];
        if (l.n < MERGE_BELOW) {
          int before = shrink(j);
          if (before > 0) {
            j--; // merged into the previous leaf
            w += before;
          }
        }
      }
      i = w;
      if (i == leaves[j].n) {
        j++;
        i = 0;
      }
    }
    return j < nLeaves ? last : -1;
  }

  /** Every key, in order (for tests and checks). */
  List<CacheKey> all() {
    List<CacheKey> all = new ArrayList<>(size);
    for (int j = 0; j < nLeaves; j++) {
      all.addAll(Arrays.asList(leaves[j].keys).subList(0, leaves[j].n));
    }
    return all;
  }

  /** How many leaves hold the keys (for tests). */
  int leafCount() {
    return nLeaves;
  }

  /**
   * Checks the leaves and their routing (order, no overlap, counts, no stale references); throws
   * {@link IllegalStateException} naming the first broken invariant (for tests).
   */
  void check() {
    int n = 0;
    long prevEnd = Long.MIN_VALUE;
    for (int j = 0; j < nLeaves; j++) {
      Leaf l = leaves[j];
      if (l.n <= 0 || l.n > LEAF_MAX || l.n > l.offs.length || l.keys.length != l.offs.length) {
        throw new IllegalStateException("leaf " + j + " holds " + l.n + " keys in arrays of " + l.offs.length);
      }
      if (firsts[j] != l.offs[0]) {
        throw new IllegalStateException("leaf " + j + " is routed at " + firsts[j] + " but starts at " + l.offs[0]);
      }
      for (int i = 0; i < l.keys.length; i++) {
        CacheKey k = l.keys[i];
        if (i >= l.n) {
          if (k != null) {
            throw new IllegalStateException("leaf " + j + " keeps " + k + " past its end");
          }
          continue;
        }
        if (k.off != l.offs[i] || k.off < prevEnd || k.len <= 0) {
          throw new IllegalStateException("leaf " + j + " index " + i + ": " + k + " at " + l.offs[i]
              + " (previous key ends at " + prevEnd + ")");
        }
        prevEnd = k.end();
      }
      n += l.n;
    }
    for (int j = nLeaves; j < leaves.length; j++) {
      if (leaves[j] != null) {
        throw new IllegalStateException("a dropped leaf is still referenced at " + j);
      }
    }
    if (n != size) {
      throw new IllegalStateException("size " + size + " but the leaves hold " + n);
    }
  }
}
