package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link WritebackPlan} against a sector-by-sector model: every sector a batch covers is written
 * exactly once, with the data of the last key (in log order) that covers it; nothing else is
 * written; extents never overlap; and adjacent pieces contiguous in the cache are merged.
 */
class WritebackPlanTest {

  static final int SECTOR = 512;

  static CacheKey key(long sector, int sectors, int segId, int segSector) {
    return new CacheKey(sector * SECTOR, sectors * SECTOR, 0, segId, segSector * SECTOR, 0, 0);
  }

  /** Where each sector's data must come from: {segId, segOff}, or null when not covered. */
  static long[][] model(List<CacheKey> keys, int sectors) {
    long[][] src = new long[sectors][];
    for (CacheKey k : keys) {
      for (long s = k.off / SECTOR; s < k.end() / SECTOR; s++) {
        src[(int) s] = new long[] {k.segId, k.segOff + (s * SECTOR - k.off)};
      }
    }
    return src;
  }

  static void check(List<CacheKey> keys, int sectors, int maxMerge) {
    List<CacheKey> copies = new ArrayList<>();
    for (CacheKey k : keys) {
      copies.add(new CacheKey(k.off, k.len, 0, k.segId, k.segOff, 0, 0));
    }
    long[][] expect = model(keys, sectors);
    List<WritebackPlan.Extent> plan = WritebackPlan.plan(copies, maxMerge);
    long[][] written = new long[sectors][];
    WritebackPlan.Extent prev = null;
    for (WritebackPlan.Extent e : plan) {
      assertTrue(e.len() > 0 && e.len() % SECTOR == 0, e.toString());
      if (prev != null) {
        assertTrue(prev.end() <= e.off(), "extents out of order or overlapping: " + prev + " " + e);
        boolean mergeable = prev.end() == e.off() && prev.segId() == e.segId()
            && prev.segOff() + prev.len() == e.segOff() && prev.len() + e.len() <= maxMerge;
        assertFalse(mergeable, "not merged: " + prev + " " + e);
      }
      for (long s = e.off() / SECTOR; s < e.end() / SECTOR; s++) {
        assertEquals(null, written[(int) s], "sector " + s + " written twice");
        written[(int) s] = new long[] {e.segId(), e.segOff() + (s * SECTOR - e.off())};
      }
      prev = e;
    }
    for (int s = 0; s < sectors; s++) {
      if (expect[s] == null) {
        assertEquals(null, written[s], "sector " + s + " written but no key covers it");
      } else {
        assertTrue(written[s] != null, "sector " + s + " (latest data at " + expect[s][0] + ":" + expect[s][1]
            + ") not written: the superseding key was lost");
        assertEquals(expect[s][0] + ":" + expect[s][1], written[s][0] + ":" + written[s][1],
            "sector " + s + " written from an older key");
      }
    }
  }

  @Test
  void randomBatchesMatchTheModel() {
    SplittableRandom r = new SplittableRandom(42);
    for (int round = 0; round < 3000; round++) {
      int sectors = 64 + r.nextInt(512);
      int n = 1 + r.nextInt(r.nextBoolean() ? 8 : 200);
      List<CacheKey> keys = new ArrayList<>();
      int segId = 1;
      int cursor = 0;
      long prevEnd = -1;
      for (int i = 0; i < n; i++) {
        int len = 1 + (r.nextInt(4) == 0 ? r.nextInt(32) : 8 * r.nextInt(1, 3) - 1);
        long at;
        int pick = r.nextInt(10);
        if (pick < 3 && prevEnd >= 0 && prevEnd + len <= sectors) {
          at = prevEnd; // sequential: lands next to the previous key in the cache too
        } else if (pick < 5 && !keys.isEmpty()) {
          CacheKey old = keys.get(r.nextInt(keys.size())); // the same range again
          at = old.off / SECTOR;
          len = old.len / SECTOR;
        } else {
          at = r.nextLong(sectors - len + 1);
        }
        if (r.nextInt(20) == 0) {
          segId++; // a new data segment
          cursor = 0;
        }
        keys.add(key(at, len, segId, cursor));
        cursor += len;
        prevEnd = at + len;
      }
      check(keys, sectors, r.nextBoolean() ? 1 << 30 : SECTOR * (1 + r.nextInt(16)));
    }
  }

  @Test
  void sequentialKeysBecomeOneWrite() {
    List<CacheKey> keys = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      keys.add(key(100 + 8L * i, 8, 3, 8 * i));
    }
    List<WritebackPlan.Extent> plan = WritebackPlan.plan(keys, 4 << 20);
    assertEquals(List.of(new WritebackPlan.Extent(100 * SECTOR, 16 * 4096, 3, 0)), plan);
  }

  @Test
  void aBlockWrittenTwiceIsWrittenOnceWithTheLaterData() {
    List<CacheKey> keys = List.of(key(0, 8, 1, 0), key(64, 8, 1, 8), key(0, 8, 1, 16));
    List<WritebackPlan.Extent> plan = WritebackPlan.plan(new ArrayList<>(keys), 4 << 20);
    assertEquals(List.of(new WritebackPlan.Extent(0, 4096, 1, 16 * SECTOR), new WritebackPlan.Extent(64 * SECTOR, 4096, 1,
        8 * SECTOR)), plan);
  }

  @Test
  void mergesStopAtTheLimit() {
    List<CacheKey> keys = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      keys.add(key(8L * i, 8, 1, 8 * i));
    }
    assertEquals(2, WritebackPlan.plan(keys, 8192).size());
  }
}
