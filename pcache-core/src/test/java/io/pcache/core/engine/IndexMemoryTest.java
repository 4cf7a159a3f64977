package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Heap bytes per cached extent: 200,000 keys in the index, measured as the growth of the used heap
 * after full collections, once for the bare index ({@link KeyIndex} and its {@link Stripe}s) and
 * once through the engine (200,000 separate 512-byte writes). Prints both figures; fails above
 * 300 bytes per key (the stripes' leaves of sorted arrays cost about 70: 8 for the offset, 4 for
 * the reference, 56 for the key, plus the arrays' slack and about 1.5 per key for the leaves
 * themselves; the {@code TreeMap<Long, CacheKey>} before them cost about 120).
 */
class IndexMemoryTest {

  static final int KEYS = 200_000;
  static final long LIMIT = 300;

  static long usedHeap() throws InterruptedException {
    Runtime rt = Runtime.getRuntime();
    long best = Long.MAX_VALUE;
    for (int i = 0; i < 4; i++) {
      System.gc();
      Thread.sleep(50);
      best = Math.min(best, rt.totalMemory() - rt.freeMemory());
    }
    return best;
  }

  @Test
  void theBareIndexCostsLessThan300BytesPerKey() throws Exception {
    long before = usedHeap();
    KeyIndex index = new KeyIndex(1L << 30);
    for (int i = 0; i < KEYS; i++) {
      long off = (long) i * 4096; // 4 KiB apart: 1024 keys per 4 MiB stripe, 196 stripes
      Stripe s = index.stripe(off);
      s.lock.lock();
      try {
        s.insert(new CacheKey(off, 2048, 0, i % 31, (i * 2048) % (16 << 20), 0, 0), k -> false);
      } finally {
        s.lock.unlock();
      }
    }
    long after = usedHeap();
    assertEquals(KEYS, index.keyCount());
    double perKey = (double) (after - before) / KEYS;
    System.out.printf("IndexMemoryTest: bare index: %.1f heap bytes per key (%d keys, %d stripes)%n", perKey, KEYS,
        index.stripeCount());
    assertTrue(perKey < LIMIT, "the index costs " + perKey + " bytes per key");
    assertTrue(index.keyCount() > 0); // keeps the index reachable until here
  }

  @Test
  void theEngineCostsLessThan300HeapBytesPerCachedExtent() throws Exception {
    try (Arena arena = Arena.ofShared()) {
      MemoryMedia media = new MemoryMedia("mem:cache", arena.allocate(512L << 20, 4096));
      MemoryBacking backing = new MemoryBacking("mem:backing", arena.allocate(256L << 20, 4096));
      CacheEngine e = CacheEngine.open(media, backing, EngineOptions.defaults().withKsetFlushDelay(Duration.ofMillis(50)),
          new TestPolicy(90));
      MemorySegment data = arena.allocate(512, 512);
      data.fill((byte) 7);
      long before = usedHeap();
      for (int i = 0; i < KEYS; i++) {
        e.write((long) i * 1024, data, false); // 1 KiB apart: every write is its own extent
      }
      e.flush();
      long after = usedHeap();
      long keys = e.keyCount();
      assertEquals(KEYS, keys, "every write should be its own key");
      double perKey = (double) (after - before) / keys;
      System.out.printf("IndexMemoryTest: engine: %.1f heap bytes per cached extent (%d extents)%n", perKey, keys);
      assertTrue(perKey < LIMIT, "the engine holds " + perKey + " heap bytes per cached extent");
      e.close();
    }
  }
}
