package io.pcache.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.testkit.PowerSupply.CutMode;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class CrashingMediaTest {

  private static final int SIZE = 1 << 20;

  private static MemorySegment bytes(int n, int value) {
    byte[] b = new byte[n];
    java.util.Arrays.fill(b, (byte) value);
    return MemorySegment.ofArray(b);
  }

  private static byte[] read(CrashingMedia m, long off, int len) {
    MemorySegment dst = MemorySegment.ofArray(new byte[len]);
    m.read(off, dst);
    return dst.toArray(ValueLayout.JAVA_BYTE);
  }

  @Test
  void losingEverythingRevertsToTheLastPersistedValueOfEachWord() {
    CrashingMedia m = CrashingMedia.allocate("crash:lose-all", SIZE);
    m.write(4096, bytes(4096, 1));
    m.persist(4096, 4096);
    m.write(4096, bytes(4096, 2)); // first old value (1) wins ...
    m.write(4096, bytes(4096, 3)); // ... over this one's old value (2)
    m.write(8192 + 8, bytes(16, 4));
    m.persist(8192 + 8, 8); // only the first of the two words
    assertEquals(512 + 1, m.pendingWords());
    m.crash(new SplittableRandom(1), CutMode.LOSE_ALL);
    assertTrue(m.crashed());
    assertArrayEquals(bytes(4096, 1).toArray(ValueLayout.JAVA_BYTE), read(m, 4096, 4096));
    byte[] words = read(m, 8192, 32);
    byte[] expect = new byte[32];
    java.util.Arrays.fill(expect, 8, 16, (byte) 4);
    assertArrayEquals(expect, words);
  }

  @Test
  void keepingEverythingKeepsTheLatestValues() {
    CrashingMedia m = CrashingMedia.allocate("crash:keep-all", SIZE);
    m.write(100, bytes(1000, 7));
    m.crash(new SplittableRandom(2), CutMode.KEEP_ALL);
    assertArrayEquals(bytes(1000, 7).toArray(ValueLayout.JAVA_BYTE), read(m, 100, 1000));
  }

  @Test
  void afterTheCutWritesGoNowhereAndReopenSeesTheCutImage() throws Exception {
    CrashingMedia m = CrashingMedia.allocate("crash:dead", SIZE);
    m.write(0, bytes(64, 9));
    m.persist(0, 64);
    m.crash(new SplittableRandom(3));
    m.write(0, bytes(64, 5));
    m.persist(0, 64);
    assertArrayEquals(bytes(64, 9).toArray(ValueLayout.JAVA_BYTE), read(m, 0, 64), "a dead media must not store");
    CrashingMedia again = m.reopen();
    assertFalse(again.crashed());
    assertTrue(m.crashed(), "the old object stays dead after the power is back");
    again.write(0, bytes(64, 6));
    assertArrayEquals(bytes(64, 6).toArray(ValueLayout.JAVA_BYTE), read(again, 0, 64));
    m.write(0, bytes(64, 5));
    assertArrayEquals(bytes(64, 6).toArray(ValueLayout.JAVA_BYTE), read(again, 0, 64));
    again.close();
    assertThrows(IllegalStateException.class, () -> again.write(0, bytes(8, 1)));
    assertThrows(IndexOutOfBoundsException.class, () -> m.reopen().read(SIZE - 4, MemorySegment.ofArray(new byte[8])));
  }

  /**
   * Random writes at odd offsets and lengths, random persists, random cuts: after each cut every
   * word holds its value as of its last covering persist or its latest value, nothing else.
   */
  @Test
  void everyWordIsEitherDurableOrLatestAfterACut() {
    SplittableRandom r = Seeds.random("CrashingMediaTest.everyWordIsEitherDurableOrLatestAfterACut");
    CrashingMedia m = CrashingMedia.allocate("crash:model", SIZE);
    byte[] durable = new byte[SIZE];
    byte[] latest = new byte[SIZE];
    long kept = 0;
    long lost = 0;
    for (int round = 0; round < 60; round++) {
      for (int op = 0; op < 40; op++) {
        int off = r.nextInt(SIZE - 1);
        int len = 1 + r.nextInt(Math.min(SIZE - off, r.nextBoolean() ? 64 : 20000));
        if (r.nextInt(3) > 0) {
          byte[] data = new byte[len];
          r.nextBytes(data);
          m.write(off, MemorySegment.ofArray(data));
          System.arraycopy(data, 0, latest, off, len);
        } else {
          m.persist(off, len);
          int w0 = off & ~7;
          int w1 = Math.min(SIZE, (off + len + 7) & ~7);
          System.arraycopy(latest, w0, durable, w0, w1 - w0);
        }
      }
      m.crash(r);
      byte[] image = read(m, 0, SIZE);
      for (int w = 0; w < SIZE; w += 8) {
        boolean isLatest = java.util.Arrays.equals(image, w, w + 8, latest, w, w + 8);
        boolean isDurable = java.util.Arrays.equals(image, w, w + 8, durable, w, w + 8);
        assertTrue(isLatest || isDurable, "round " + round + ": word at " + w + " is neither durable nor latest ("
            + m.supply().lastCut() + ")");
        if (!java.util.Arrays.equals(latest, w, w + 8, durable, w, w + 8)) {
          if (isLatest) {
            kept++;
          } else {
            lost++;
          }
        }
      }
      System.arraycopy(image, 0, durable, 0, SIZE);
      System.arraycopy(image, 0, latest, 0, SIZE);
      m = m.reopen();
    }
    assertTrue(kept > 0 && lost > 0, "cuts should both keep and lose pending words: kept " + kept + " lost " + lost);
  }

  @Test
  void anArmedCutFiresAtTheNthOperationFromAnyThreadAndSharesThePower() throws Exception {
    PowerSupply power = new PowerSupply();
    CrashingMedia m = CrashingMedia.allocate("crash:armed", SIZE, power);
    CrashingBacking b = CrashingBacking.allocate("crash:armed-backing", 64 << 10, power);
    b.write(0, bytes(512, 1));
    b.flush();
    b.write(512, bytes(512, 2)); // not flushed
    m.armCrash(10, new SplittableRandom(4));
    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<Integer> firedAt = new AtomicReference<>();
    Thread t = new Thread(() -> {
      for (int i = 1; i <= 20; i++) {
        m.write(i * 64L, bytes(8, 0x40 + i));
        if (m.crashed() && firedAt.get() == null) {
          firedAt.set(i);
        }
      }
      done.countDown();
    });
    t.start();
    done.await();
    assertEquals(10, firedAt.get());
    assertTrue(b.crashed(), "the backing device shares the power");
    assertEquals(0, read(m, 10 * 64L, 8)[0], "the operation that reaches the count goes nowhere");
    assertEquals(0, read(m, 11 * 64L, 8)[0]);
    MemorySegment sector = MemorySegment.ofArray(new byte[512]);
    b.write(0, bytes(512, 9));
    b.reopen().read(0, sector);
    assertEquals(1, sector.get(ValueLayout.JAVA_BYTE, 0), "flushed data survives, later writes are ignored");
  }

  @Test
  void persistOfALargeRangeWithFewPendingPagesIsCheap() {
    CrashingMedia m = CrashingMedia.allocate("crash:big", 64L << 20);
    MemorySegment chunk = bytes(4 << 20, 3);
    long start = System.nanoTime();
    for (int i = 0; i < 64; i++) {
      long off = (long) (i % 15) * (4 << 20) + 512;
      m.write(off, chunk);
      m.persist(off, chunk.byteSize());
      m.persist(0, m.size());
    }
    long ms = (System.nanoTime() - start) / 1_000_000;
    System.out.println("CrashingMedia: 64 writes+persists of 4 MiB in " + ms + " ms");
    assertEquals(0, m.pendingWords());
  }

  @Test
  void longIntMapBehavesLikeAHashMap() {
    SplittableRandom r = Seeds.random("CrashingMediaTest.longIntMapBehavesLikeAHashMap");
    LongIntMap map = new LongIntMap(4);
    Map<Long, Integer> model = new HashMap<>();
    for (int i = 0; i < 200_000; i++) {
      long k = r.nextLong(5000);
      switch (r.nextInt(3)) {
        case 0 -> {
          int v = r.nextInt(1 << 20);
          map.put(k, v);
          model.put(k, v);
        }
        case 1 -> assertEquals(model.containsKey(k) ? model.remove(k) : -1, map.remove(k));
        default -> assertEquals(model.getOrDefault(k, -1), map.get(k));
      }
      if (i % 50_000 == 0) {
        assertEquals(model.size(), map.size());
      }
    }
    assertEquals(model.size(), map.keys().length);
    for (long k : map.keys()) {
      assertEquals(model.get(k), map.get(k));
    }
  }

  @Test
  void aCutArmedOnARangeFiresAtTheFirstWriteThereAndAHeldWriteWaitsForRelease() throws Exception {
    CrashingMedia m = CrashingMedia.allocate("crash:range", SIZE);
    m.armCrashAtWrite(8192, 16, new SplittableRandom(5), CutMode.KEEP_ALL);
    m.write(0, bytes(8192, 1)); // ends right before the range
    assertFalse(m.crashed());
    m.write(8200, bytes(8, 2)); // overlaps: the cut fires, the write goes nowhere
    assertTrue(m.crashed());
    assertEquals(1, read(m, 0, 1)[0], "pending stores before the cut are kept in KEEP_ALL mode");
    assertEquals(0, read(m, 8200, 1)[0]);

    CrashingMedia live = m.reopen();
    live.holdWriteAt(4096, 8);
    Thread writer = new Thread(() -> live.write(4096, bytes(8, 3)));
    writer.start();
    assertTrue(live.awaitHeldWrite(java.time.Duration.ofSeconds(5)));
    Thread.sleep(20);
    assertEquals(1, read(live, 4096, 1)[0], "a held write stores nothing until released");
    live.releaseHeldWrite();
    writer.join();
    assertEquals(3, read(live, 4096, 1)[0]);
    live.write(4096, bytes(8, 4)); // the hold fires once
    assertEquals(4, read(live, 4096, 1)[0]);
    assertEquals(io.pcache.api.media.PersistenceDomain.DAX, live.persistenceDomain());
    live.reportPersistenceDomain(io.pcache.api.media.PersistenceDomain.PAGE_CACHE);
    assertEquals(io.pcache.api.media.PersistenceDomain.PAGE_CACHE, live.reopen().persistenceDomain());
  }
}
