package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.core.format.Layout;
import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * {@code writeback.dirty-percent}: while writes keep coming, writeback leaves up to the percentage
 * of the cache dirty and writes back only what is above it; when writes stop for {@link
 * Writeback#IDLE}, or a drain asks, everything goes back. 0 writes back at once.
 */
class WritebackDirtyPercentTest {

  private static final int BLOCK = 4096;
  private static final long CACHE = 512L << 20;

  private final MemoryBacking backing = MemoryBacking.allocate("mem:backing", 256L << 20);

  private CacheEngine open(int percent) throws Exception {
    EngineOptions options = EngineOptions.defaults().withKsetFlushDelay(Duration.ofMillis(10)).withWritebackDirtyPercent(percent);
    return CacheEngine.open(MemoryMedia.allocate("mem:cache", CACHE), backing, options, new TestPolicy(70));
  }

  /** Writes {@code blocks} distinct 4 KiB blocks from {@code first}, each filled with its number. */
  private static void writeBlocks(CacheEngine e, int first, int blocks) throws Exception {
    MemorySegment block = MemorySegment.ofArray(new byte[BLOCK]);
    for (int i = first; i < first + blocks; i++) {
      block.fill((byte) (i | 1));
      e.write((long) i * BLOCK, block, false);
    }
  }

  private static long dirty(CacheEngine e) {
    return e.counters().get("dirty_bytes");
  }

  private static long writtenBackKeys(CacheEngine e) {
    return e.counters().get("writeback_keys");
  }

  /** Keeps the device busy (a write every 50 ms, to a block of its own) until {@code done} or 20 s. */
  private static boolean busyUntil(CacheEngine e, BooleanSupplier done) throws Exception {
    MemorySegment block = MemorySegment.ofArray(new byte[BLOCK]);
    block.fill((byte) 7);
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      if (done.getAsBoolean()) {
        return true;
      }
      e.write(200L << 20, block, false);
      Thread.sleep(50);
    }
    return done.getAsBoolean();
  }

  private void assertBackingHolds(int first, int blocks) throws Exception {
    MemorySegment got = MemorySegment.ofArray(new byte[BLOCK]);
    byte[] want = new byte[BLOCK];
    for (int i = first; i < first + blocks; i++) {
      backing.read((long) i * BLOCK, got);
      java.util.Arrays.fill(want, (byte) (i | 1));
      assertArrayEquals(want, got.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), "block " + i + " on the backing device");
    }
  }

  @Test
  void aBurstBelowThePercentageStaysInTheCacheWhileBusyAndGoesBackOnceIdle() throws Exception {
    CacheEngine e = open(50);
    try {
      writeBlocks(e, 0, 5_000); // about 20 MiB: 4 % of the cache
      e.flush();
      // Busy for 1.5 s (longer than IDLE, with the kset flush delay passed many times): nothing goes back.
      long start = System.nanoTime();
      busyUntil(e, () -> System.nanoTime() - start > Duration.ofMillis(1500).toNanos());
      assertEquals(0, writtenBackKeys(e), "held back while busy and below 50 %");
      assertTrue(dirty(e) >= 5_000L * BLOCK, "dirty " + dirty(e));
      // Idle: everything goes back.
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (!e.clean() && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertTrue(e.clean(), "written back once idle; dirty " + dirty(e));
      assertBackingHolds(0, 5_000);
    } finally {
      e.close();
    }
  }

  @Test
  void aboveThePercentageWritebackBringsDirtyDataBackToIt() throws Exception {
    CacheEngine e = open(5);
    try {
      long capacity = (long) e.counters().get("segments_total") * Layout.SEG_DATA_SIZE;
      long share = capacity * 5 / 100;
      writeBlocks(e, 0, 15_000); // about 59 MiB: well above 5 %
      e.flush();
      assertTrue(busyUntil(e, () -> dirty(e) <= share), "dirty " + dirty(e) + " never came down to " + share);
      // Still busy: it stays held near the share, not written back to nothing.
      long start = System.nanoTime();
      busyUntil(e, () -> System.nanoTime() - start > Duration.ofMillis(500).toNanos());
      long held = dirty(e);
      assertTrue(held > 0 && held <= share + (long) 16 * Layout.KSET_KEYS_MAX * BLOCK, "dirty while busy " + held);
      assertTrue(writtenBackKeys(e) > 0);
      // A drain does not wait for idle.
      long mark = e.drainMark();
      assertTrue(busyUntil(e, () -> e.writtenBack(mark)), "drain passed its mark while busy");
      assertBackingHolds(0, 15_000);
    } finally {
      e.close();
    }
  }

  @Test
  void zeroWritesBackAtOnceAndSettingItEndsAHold() throws Exception {
    CacheEngine e = open(0);
    try {
      writeBlocks(e, 0, 1_000);
      e.flush();
      assertTrue(busyUntil(e, () -> writtenBackKeys(e) >= 1_000), "written back at once while busy");
      e.writeback().setDirtyPercent(50);
      writeBlocks(e, 1_000, 1_000);
      e.flush();
      long start = System.nanoTime();
      busyUntil(e, () -> System.nanoTime() - start > Duration.ofMillis(300).toNanos());
      long before = writtenBackKeys(e);
      MemorySegment got = MemorySegment.ofArray(new byte[BLOCK]);
      backing.read(1_500L * BLOCK, got);
      assertEquals(0, got.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0), "held back at 50 %");
      e.writeback().setDirtyPercent(0);
      assertTrue(busyUntil(e, () -> writtenBackKeys(e) >= before + 1_000), "a hold ends when the percentage is set to 0");
      assertBackingHolds(0, 2_000);
    } finally {
      e.close();
    }
  }
}
