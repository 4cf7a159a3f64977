package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class EngineSmokeTest {

  static final long MEDIA = 512L << 20;
  static final long BACKING = 64L << 20;

  static byte[] random(SplittableRandom r, int n) {
    byte[] b = new byte[n];
    r.nextBytes(b);
    return b;
  }

  static byte[] read(CacheEngine e, long off, int len) throws Exception {
    MemorySegment dst = MemorySegment.ofArray(new byte[len]);
    e.read(off, dst);
    return dst.toArray(ValueLayout.JAVA_BYTE);
  }

  @Test
  void writeReadReplayDiscard() throws Exception {
    MemoryMedia media = MemoryMedia.allocate("mem:cache", MEDIA);
    MemoryBacking backing = MemoryBacking.allocate("mem:backing", BACKING);
    SplittableRandom r = new SplittableRandom(1);
    byte[] a = random(r, 4096);
    byte[] b = random(r, 3 * 4096);
    CacheEngine e = CacheEngine.open(media, backing, EngineOptions.defaults(), new TestPolicy(70));
    assertTrue(e.replayReport().formatted());
    assertEquals("0 31 31 1 70 1182 0:0 0:0 0:0", e.statusLine());
    e.write(8192, MemorySegment.ofArray(a), false);
    e.write((4L << 20) - 4096, MemorySegment.ofArray(b), true); // crosses a stripe
    assertArrayEquals(a, read(e, 8192, 4096));
    assertArrayEquals(b, read(e, (4L << 20) - 4096, b.length));
    assertArrayEquals(new byte[4096], read(e, 0, 4096));
    e.flush();
    e.close();

    CacheEngine e2 = CacheEngine.open(media.reopen(), backing, EngineOptions.defaults(), new TestPolicy(70));
    assertEquals(false, e2.replayReport().formatted());
    assertTrue(e2.replayReport().keys() >= 3, e2.replayReport().toString());
    assertArrayEquals(a, read(e2, 8192, 4096));
    assertArrayEquals(b, read(e2, (4L << 20) - 4096, b.length));
    e2.discard(8192 + 1024, 1024);
    byte[] expect = a.clone();
    java.util.Arrays.fill(expect, 1024, 2048, (byte) 0);
    assertArrayEquals(expect, read(e2, 8192, 4096));
    e2.flush();
    // Writeback drains to the backing device.
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!e2.clean() && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertTrue(e2.clean(), e2.positions());
    byte[] onBacking = new byte[4096];
    MemorySegment.copy(backing.memory(), ValueLayout.JAVA_BYTE, 8192, onBacking, 0, 4096);
    assertArrayEquals(expect, onBacking);
    // GC everything that was written back, then read again: misses from the backing device.
    e2.setGcPercent(0);
    deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!e2.positions().endsWith(e2.positions().split(" ")[1]) && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertArrayEquals(expect, read(e2, 8192, 4096));
    e2.close();
  }
}
