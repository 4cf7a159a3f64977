package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.pcache.testkit.Seeds;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * {@link Stripe} against {@link ArrayStripeModel} (the single pair of sorted arrays it replaced):
 * both get copies of the same keys and the same calls, and every answer (returned keys, return
 * values, exceptions) and the whole content ({@link Stripe#all()}, {@link Stripe#size()}) must
 * match by value after every call; {@link Stripe#check()} verifies the leaves and their routing.
 * Random sequences of every operation with keys from 512 bytes to 4 MiB, overlapping in every
 * way; thousands of 512-byte keys (many leaf splits, leaves emptied and merged); and hand-written
 * cases at a leaf boundary. The seed is printed; {@code -Dpcache.test.seed=N} replays a run.
 */
class StripeTest {

  static final long STRIPE = 4L << 20;
  static final int SECTOR = 512;

  @Test
  void randomOperationsMatchTheArrayModel() {
    SplittableRandom master = Seeds.random("StripeTest.randomOperationsMatchTheArrayModel");
    for (int run = 0; run < 12; run++) {
      long seed = master.nextLong();
      Pair p = new Pair("run " + run + " (run seed " + seed + ")");
      SplittableRandom r = new SplittableRandom(seed);
      int small = run % 3; // 0: mixed sizes, 1: mostly small keys, 2: mostly 512 bytes (thousands of keys)
      for (int step = 0; step < 4000; step++) {
        p.randomStep(r, small);
      }
      p.walkDeleteStale(1 + r.nextInt(300));
    }
  }

  @Test
  void thousandsOfSmallKeysSplitAndEmptyLeaves() {
    SplittableRandom r = Seeds.random("StripeTest.thousandsOfSmallKeysSplitAndEmptyLeaves");
    int n = (int) (STRIPE / SECTOR);
    for (int order = 0; order < 3; order++) { // random, ascending, descending
      Pair p = new Pair("order " + order);
      p.compareEvery = 256;
      int[] perm = new int[n];
      for (int i = 0; i < n; i++) {
        perm[i] = order == 2 ? n - 1 - i : i;
      }
      if (order == 0) {
        shuffle(perm, r);
      }
      for (int i : perm) {
        p.insert(p.key(i * (long) SECTOR, SECTOR, r.nextInt(16), 0));
      }
      p.compare();
      assertEquals(n, p.s.size());
      assertTrue(p.s.leafCount() >= n / Stripe.LEAF_MAX, "leaves: " + p.s.leafCount());
      if (order == 1) {
        assertEquals(n / Stripe.LEAF_MAX, p.s.leafCount(), "a sequential fill leaves full leaves");
      }
      for (int q = 0; q < 200; q++) {
        long off = r.nextLong(n) * SECTOR;
        p.overlapping(off, Math.min(STRIPE, off + (1 + r.nextInt(300)) * (long) SECTOR));
      }
      // Half the segments go stale; GC's walk deletes their keys in small steps.
      for (int seg = 0; seg < 16; seg += 2) {
        p.markStale(seg);
      }
      p.walkDeleteStale(1 + r.nextInt(100));
      assertTrue(p.s.size() < n && p.s.size() > 0, "size " + p.s.size());
      // The rest go one by one, by identity, in random order: leaves shrink, merge and empty.
      p.compareEvery = 64;
      List<CacheKey> left = p.s.all();
      int[] idx = new int[left.size()];
      for (int i = 0; i < idx.length; i++) {
        idx[i] = i;
      }
      shuffle(idx, r);
      List<CacheKey> modelLeft = p.m.all();
      for (int i : idx) {
        p.remove(left.get(i), modelLeft.get(i));
      }
      p.compare();
      assertEquals(0, p.s.size());
      assertEquals(0, p.s.leafCount());
      // And the emptied stripe fills again.
      for (int i = 0; i < 3 * Stripe.LEAF_MAX; i++) {
        p.insert(p.key(r.nextLong(n) * SECTOR, SECTOR * (1 + r.nextInt(8)), 20, 0));
      }
      p.compare();
    }
  }

  @Test
  void overlapsAcrossALeafBoundary() {
    // 128 keys of 4 KiB, 8 KiB apart, in order: two full leaves, keys 0..63 and 64..127.
    Supplier<Pair> twoLeaves = () -> {
      Pair p = new Pair("two leaves");
      for (int i = 0; i < 2 * Stripe.LEAF_MAX; i++) {
        p.insert(p.key(i * 8192L, 4096, 1, i * 4096));
      }
      assertEquals(2, p.s.leafCount());
      return p;
    };
    long k63 = 63 * 8192L;
    long k64 = 64 * 8192L;

    Pair p = twoLeaves.get();
    List<CacheKey> both = p.overlapping(k63 + 2048, k64 + 2048);
    assertEquals(List.of(k63, k64), both.stream().map(k -> k.off).toList());
    assertEquals(1, p.overlapping(k63 + 4096, k64 + 1).size()); // from the gap: only key 64
    assertEquals(0, p.overlapping(k63 + 4096, k64).size()); // the gap alone

    // A key from inside key 63 to inside key 64: 63 is cut at the back, 64 (the first key of
    // the second leaf) at the front, which moves the leaf's first offset.
    p.insert(p.key(k63 + 2048, 8192, 2, 0));
    assertEquals(List.of(k63, k63 + 2048, k64 + 2048),
        p.overlapping(k63, k64 + 4096).stream().map(k -> k.off).toList());
    CacheKey moved = p.s.overlapping(k64 + 2048, k64 + 2049, k -> false).getFirst();
    assertEquals(2048, moved.len);
    assertEquals(64 * 4096 + 2048, moved.segOff);

    // A key exactly filling the gap before the second leaf's first key, both leaves full: the
    // one-search path, a new leaf.
    p = twoLeaves.get();
    p.insert(p.key(k63 + 4096, 4096, 3, 0));
    assertEquals(3, p.s.leafCount());

    // A key inside the second leaf's first key: split in two.
    p = twoLeaves.get();
    p.insert(p.key(k64 + 1024, 1024, 3, 0));
    assertEquals(List.of(k64, k64 + 1024, k64 + 2048),
        p.overlapping(k64, k64 + 4096).stream().map(k -> k.off).toList());

    // A placeholder filling the gap at the leaf boundary: cut at the back when the new key
    // overlaps its tail...
    p = twoLeaves.get();
    p.insertGap(CacheKey.placeholder(k63 + 4096, 4096));
    p.insert(p.key(k63 + 6144, 4096, 4, 0)); // inside the gap's placeholder and key 64's head
    assertEquals(List.of(k63, k63 + 4096, k63 + 6144, k64 + 2048),
        p.overlapping(k63, k64 + 4096).stream().map(k -> k.off).toList());

    // ... and deleted (not cut at the front) when the new key overlaps its head.
    p = twoLeaves.get();
    p.insertGap(CacheKey.placeholder(k63 + 4096, 4096));
    p.insert(p.key(k63 + 2048, 3072, 4, 0));
    assertEquals(List.of(k63, k63 + 2048, k64), p.overlapping(k63, k64 + 4096).stream().map(k -> k.off).toList());

    // A key from inside key 63 over the whole second leaf: that leaf empties and goes; the new
    // key, after the full first leaf, starts a leaf of its own.
    p = twoLeaves.get();
    p.insert(p.key(k63 + 2048, (int) (STRIPE - k63 - 2048), 5, 0));
    assertEquals(2, p.s.leafCount());
    assertEquals(65, p.s.size());
    assertEquals(1, p.overlapping(k64, STRIPE).size());

    // The second leaf's first key stale: deleted by a lookup that starts in the first leaf.
    p = twoLeaves.get();
    p.insert(p.key(k64, 4096, 6, 0)); // exact overwrite, now in segment 6
    p.markStale(6);
    assertEquals(List.of(k63), p.overlapping(k63, k64 + 4096).stream().map(k -> k.off).toList());
    assertEquals(127, p.s.size());
    p.insert(p.key(k64 - 1024, 2048, 7, 0)); // the gap's end, reaching where key 64 was
    p.walkDeleteStale(1);
  }

  @Test
  void deleteStaleCursorSkipsToTheNextKeyAfterAnyOffset() {
    Pair p = new Pair("cursor");
    SplittableRandom r = Seeds.random("StripeTest.deleteStaleCursorSkipsToTheNextKeyAfterAnyOffset");
    for (int i = 0; i < 1000; i++) {
      p.insert(p.key(r.nextLong(STRIPE / SECTOR) * SECTOR, SECTOR * (1 + r.nextInt(4)), r.nextInt(8), 0));
    }
    p.markStale(3);
    for (int i = 0; i < 300; i++) {
      long from = r.nextInt(10) == 0 ? Long.MIN_VALUE : r.nextLong(-SECTOR, STRIPE + SECTOR);
      p.deleteStale(from, r.nextInt(10) == 0 ? 0 : r.nextInt(1, 100));
      p.markStale(r.nextInt(8));
    }
    assertEquals(-1, p.deleteStale(Long.MIN_VALUE, Integer.MAX_VALUE));
  }

  static void shuffle(int[] a, SplittableRandom r) {
    for (int i = a.length - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      int t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  /** A stripe and its model with copies of the same keys, compared after the calls. */
  static final class Pair {
    final Stripe s = new Stripe();
    final ArrayStripeModel m = new ArrayStripeModel();
    final String name;
    final Map<Integer, Long> generations = new HashMap<>(); // segment → current generation
    final Predicate<CacheKey> stale = k -> !k.empty() && k.segGen < generations.getOrDefault(k.segId, 0L);
    int compareEvery = 1;
    int calls;
    String last = "(none)";
    int nextSegOff;

    Pair(String name) {
      this.name = name;
    }

    String where() {
      return name + ", after call " + calls + " (" + last + ")";
    }

    CacheKey key(long off, int len, int segId, int segOff) {
      return new CacheKey(off, len, 0, segId, segOff, generations.getOrDefault(segId, 0L), (int) off ^ len);
    }

    void markStale(int segId) {
      generations.merge(segId, 1L, Long::sum);
    }

    void called(String what) {
      calls++;
      last = what;
      if (calls % compareEvery == 0) {
        compare();
      }
    }

    void compare() {
      try {
        s.check();
      } catch (IllegalStateException e) {
        fail(where() + ": " + e.getMessage(), e);
      }
      assertEquals(m.size(), s.size(), () -> where() + ": size");
      assertSame(m.all(), s.all(), "all()");
    }

    void assertSame(List<CacheKey> expected, List<CacheKey> actual, String what) {
      if (expected.size() != actual.size()) {
        fail(where() + ": " + what + " gave " + actual.size() + " keys, the model " + expected.size() + ": " + actual
            + " vs " + expected);
      }
      for (int i = 0; i < expected.size(); i++) {
        if (!sameValue(expected.get(i), actual.get(i))) {
          fail(where() + ": " + what + " differs at " + i + ": " + describe(actual.get(i)) + ", the model "
              + describe(expected.get(i)));
        }
      }
    }

    void insert(CacheKey k) {
      s.insert(copy(k), stale);
      m.insert(copy(k), stale);
      called("insert " + k);
    }

    void insertGap(CacheKey k) {
      String sFail = failure(() -> s.insertGap(copy(k)));
      String mFail = failure(() -> m.insertGap(copy(k)));
      assertEquals(mFail, sFail, () -> where() + ": insertGap " + k);
      called("insertGap " + k);
    }

    List<CacheKey> overlapping(long off, long end) {
      List<CacheKey> got = s.overlapping(off, end, stale);
      List<CacheKey> want = m.overlapping(off, end, stale);
      last = "overlapping " + off + ".." + end;
      assertSame(want, got, "overlapping(" + off + ", " + end + ")");
      for (CacheKey k : got) {
        assertTrue(s.contains(k), () -> where() + ": overlapping gave " + k + ", which is not in the stripe");
      }
      called(last);
      return got;
    }

    void remove(CacheKey sKey, CacheKey mKey) {
      boolean got = s.remove(sKey);
      assertEquals(m.remove(mKey), got, () -> where() + ": remove " + sKey);
      called("remove " + sKey);
    }

    void contains(CacheKey sKey, CacheKey mKey) {
      assertEquals(m.contains(mKey), s.contains(sKey), () -> where() + ": contains " + sKey);
      called("contains " + sKey);
    }

    void replace(CacheKey sOld, CacheKey mOld, CacheKey k) {
      String sFail = failure(() -> s.replace(sOld, copy(k)));
      String mFail = failure(() -> m.replace(mOld, copy(k)));
      assertEquals(mFail, sFail, () -> where() + ": replace " + sOld + " by " + k);
      called("replace " + sOld + " by " + k);
    }

    long deleteStale(long from, int max) {
      long got = s.deleteStale(stale, from, max);
      long want = m.deleteStale(stale, from, max);
      assertEquals(want, got, () -> where() + ": deleteStale from " + from + " max " + max);
      called("deleteStale from " + from + " max " + max);
      return got;
    }

    /** GC's walk: from the start until -1. */
    void walkDeleteStale(int max) {
      long from = Long.MIN_VALUE;
      int rounds = 0;
      do {
        from = deleteStale(from, max);
        assertTrue(++rounds <= 2 + s.size() + m.size() + 100_000 / max, () -> where() + ": the walk does not end");
      } while (from != -1);
      compare();
    }

    /** One random call of any kind. */
    void randomStep(SplittableRandom r, int profile) {
      int op = r.nextInt(100);
      List<CacheKey> sAll = s.all();
      List<CacheKey> mAll = m.all();
      if (op < 45 || sAll.isEmpty()) {
        insert(randomKey(r, profile, mAll));
      } else if (op < 55) {
        randomGap(r, mAll);
      } else if (op < 63) {
        int x = r.nextInt(sAll.size());
        if (r.nextInt(5) == 0) {
          remove(copy(sAll.get(x)), copy(mAll.get(x))); // equal but not the same object: not removed
        } else {
          remove(sAll.get(x), mAll.get(x));
        }
      } else if (op < 67) {
        int x = r.nextInt(sAll.size());
        CacheKey old = mAll.get(x);
        CacheKey k = key(old.off, old.len, 20 + r.nextInt(10), nextSegOff += SECTOR);
        if (r.nextInt(6) == 0) {
          replace(copy(sAll.get(x)), copy(mAll.get(x)), k); // not in the stripe: refused
        } else if (r.nextInt(6) == 0) {
          replace(sAll.get(x), mAll.get(x), key(old.off + SECTOR, old.len, 1, 0)); // another offset: refused
        } else {
          replace(sAll.get(x), mAll.get(x), k);
        }
      } else if (op < 71) {
        int x = r.nextInt(sAll.size());
        if (r.nextBoolean()) {
          contains(sAll.get(x), mAll.get(x));
        } else {
          contains(copy(sAll.get(x)), copy(mAll.get(x)));
        }
      } else if (op < 86) {
        long off = r.nextLong(-4, STRIPE / SECTOR + 4) * SECTOR;
        overlapping(off, off + randomLen(r, profile));
      } else if (op < 92) {
        markStale(r.nextInt(32));
      } else if (op < 94) {
        walkDeleteStale(r.nextInt(4) == 0 ? Integer.MAX_VALUE : 1 + r.nextInt(200));
      } else {
        long from = r.nextInt(3) == 0 ? mAll.get(r.nextInt(mAll.size())).off : r.nextLong(-SECTOR, STRIPE);
        deleteStale(from, r.nextInt(8) == 0 ? 0 : 1 + r.nextInt(200));
      }
    }

    int randomLen(SplittableRandom r, int profile) {
      int c = r.nextInt(100);
      if (profile == 2 && c < 80 || profile == 1 && c < 30) {
        return SECTOR;
      }
      if (c < 50) {
        return 4096;
      }
      if (c < 85) {
        return SECTOR * (1 + r.nextInt(32));
      }
      if (c < 97 || profile != 0) {
        return SECTOR * (1 + r.nextInt(512));
      }
      return SECTOR * (1 + r.nextInt((int) (STRIPE / SECTOR)));
    }

    CacheKey randomKey(SplittableRandom r, int profile, List<CacheKey> existing) {
      long off;
      int len;
      int shape = r.nextInt(10);
      if (shape < 4 && !existing.isEmpty()) {
        // Placed against an existing key: the same range, the same start, the same end, inside,
        // covering it, or straddling its head or tail.
        CacheKey t = existing.get(r.nextInt(existing.size()));
        long ts = t.off;
        long te = t.end();
        long s0;
        long e0;
        switch (r.nextInt(7)) {
          case 0 -> { s0 = ts; e0 = te; }
          case 1 -> { s0 = ts; e0 = ts + randomLen(r, profile); }
          case 2 -> { e0 = te; s0 = te - randomLen(r, profile); }
          case 3 -> { s0 = ts + SECTOR * r.nextLong(Math.max(1, (te - ts) / SECTOR)); e0 = s0 + SECTOR; }
          case 4 -> { s0 = ts - randomLen(r, profile); e0 = te + randomLen(r, profile); }
          case 5 -> { s0 = ts - randomLen(r, profile); e0 = ts + SECTOR; }
          default -> { s0 = te - SECTOR; e0 = te + randomLen(r, profile); }
        }
        off = Math.max(0, s0);
        len = (int) (Math.min(STRIPE, e0) - off);
        if (len <= 0) {
          off = ts;
          len = (int) (te - ts);
        }
      } else {
        off = r.nextLong(STRIPE / SECTOR) * SECTOR;
        len = (int) Math.min(randomLen(r, profile), STRIPE - off);
      }
      int kind = r.nextInt(10);
      if (kind == 0) {
        return CacheKey.placeholder(off, len);
      }
      CacheKey k = key(off, len, r.nextInt(32), nextSegOff += SECTOR);
      if (kind < 4) {
        k.flags = CacheKey.CLEAN;
      }
      return k;
    }

    /** A placeholder somewhere in a gap between keys, or (rarely) colliding with a key's start. */
    void randomGap(SplittableRandom r, List<CacheKey> all) {
      if (!all.isEmpty() && r.nextInt(20) == 0) {
        CacheKey t = all.get(r.nextInt(all.size()));
        insertGap(CacheKey.placeholder(t.off, SECTOR)); // refused by both
        return;
      }
      int g = all.isEmpty() ? 0 : r.nextInt(all.size() + 1);
      long from = g == 0 ? 0 : all.get(g - 1).end();
      long to = g == all.size() ? STRIPE : all.get(g).off;
      long sectors = (to - from) / SECTOR;
      if (sectors <= 0) {
        return;
      }
      long a = from + r.nextLong(sectors) * SECTOR;
      long b = a + SECTOR * (1 + r.nextLong((to - a) / SECTOR));
      insertGap(CacheKey.placeholder(a, (int) (b - a)));
    }
  }

  static String failure(Runnable call) {
    try {
      call.run();
      return "ok";
    } catch (IllegalStateException e) {
      return e.getMessage();
    }
  }

  static CacheKey copy(CacheKey k) {
    CacheKey c = new CacheKey(k.off, k.len, k.flags, k.segId, k.segOff, k.segGen, k.crc);
    c.crcSegOff = k.crcSegOff;
    c.crcLen = k.crcLen;
    return c;
  }

  static boolean sameValue(CacheKey a, CacheKey b) {
    return a.off == b.off && a.len == b.len && a.flags == b.flags && a.segId == b.segId && a.segOff == b.segOff
        && a.segGen == b.segGen && a.crc == b.crc && a.crcSegOff == b.crcSegOff && a.crcLen == b.crcLen;
  }

  static String describe(CacheKey k) {
    return k + " crc " + k.crc + " over " + k.crcSegOff + "+" + k.crcLen;
  }
}
