package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.BlockIOException;
import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.PersistenceDomain;
import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The quick variants: what they decline, and that what they do is what the blocking calls do. */
class EngineTryPathsTest {

  private static final long MEDIA = 512L << 20;
  private static final long BACKING = 64L << 20;

  private static MemorySegment bytes(byte[] b) {
    return MemorySegment.ofArray(b);
  }

  @Test
  void hitsWritesAndFlushesOnFastMedia() throws Exception {
    MemoryBacking backing = MemoryBacking.allocate("mem:backing", BACKING);
    byte[] old = EngineSmokeTest.random(new SplittableRandom(1), 8192);
    MemorySegment.copy(old, 0, backing.memory(), ValueLayout.JAVA_BYTE, 1 << 20, old.length);
    try (CacheEngine e = CacheEngine.open(MemoryMedia.allocate("mem:cache", MEDIA), backing, EngineOptions.defaults(),
        new TestPolicy(70))) {
      byte[] got = new byte[8192];
      assertFalse(e.tryRead(1 << 20, bytes(got)), "a miss needs the backing device");
      assertEquals(0, e.stats.readMisses.sum(), "and is left to read()");
      e.read(1 << 20, bytes(got)); // fills the cache
      java.util.Arrays.fill(got, (byte) 0);
      assertTrue(e.tryRead(1 << 20, bytes(got)), "now a hit");
      assertArrayEquals(old, got);

      byte[] data = EngineSmokeTest.random(new SplittableRandom(2), 3 * 4096);
      long across = (4L << 20) - 4096; // two stripe pieces
      assertTrue(e.tryWrite(across, bytes(data), false));
      assertFalse(e.tryWrite(across, bytes(data), true), "FUA closes a kset: left to write()");
      byte[] back = new byte[data.length];
      assertTrue(e.tryRead(across, bytes(back)));
      assertArrayEquals(data, back);
      byte[] half = new byte[8192];
      assertFalse(e.tryRead(across + 8192, bytes(half)), "partly cached");
      assertTrue(e.tryFlush());
      assertEquals(1, e.stats.flushes.sum());
      assertThrows(BlockIOException.class, () -> e.tryRead(100, bytes(new byte[512])), "misaligned");
      assertThrows(BlockIOException.class, () -> e.tryWrite(BACKING, bytes(new byte[512]), false), "beyond the end");
    }
  }

  @Test
  void pageCacheMediaLeavesWritesAndFlushesToTheBlockingCalls() throws Exception {
    MemoryBacking backing = MemoryBacking.allocate("mem:backing", BACKING);
    try (CacheEngine e = CacheEngine.open(pageCache(MemoryMedia.allocate("mem:cache", MEDIA)), backing,
        EngineOptions.defaults(), new TestPolicy(70))) {
      byte[] data = EngineSmokeTest.random(new SplittableRandom(3), 4096);
      assertFalse(e.tryWrite(0, bytes(data), false), "a kset close would msync");
      assertFalse(e.tryFlush());
      assertEquals(0, e.stats.writes.sum() + e.stats.flushes.sum(), "declined before doing anything");
      e.write(0, bytes(data), false);
      byte[] back = new byte[4096];
      assertTrue(e.tryRead(0, bytes(back)), "reads never persist: a hit is quick on any media");
      assertArrayEquals(data, back);
    }
  }

  /** {@code m} reporting PAGE_CACHE, as a file on ext4 does. */
  private static CacheMedia pageCache(MemoryMedia m) {
    return new CacheMedia() {
      @Override
      public String name() {
        return m.name();
      }

      @Override
      public long size() {
        return m.size();
      }

      @Override
      public PersistenceDomain persistenceDomain() {
        return PersistenceDomain.PAGE_CACHE;
      }

      @Override
      public void read(long offset, MemorySegment dst) {
        m.read(offset, dst);
      }

      @Override
      public void write(long offset, MemorySegment src) {
        m.write(offset, src);
      }

      @Override
      public void persist(long offset, long length) {
        m.persist(offset, length);
      }

      @Override
      public MemorySegment mapping() {
        return m.mapping();
      }

      @Override
      public void close() throws IOException {
        m.close();
      }
    };
  }
}
