package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.core.logging.LogCapture;
import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A backing device that shrinks under a running engine: writeback stops before the first dirty
 * extent past the new end (latched: nothing written there, the device not extended again,
 * dirty_tail not moved past it), says so once at ERROR and in {@link Writeback#backingShrink()},
 * keeps the data readable from the cache, and goes on by itself when the size is back.
 */
class WritebackShrinkTest {

  private static final int BLOCK = 4096;
  private static final long BACKING = 16L << 20;
  private static final long SHRUNK = 8L << 20;
  /** 64 blocks below the shrunk end, written back before the shrink is noticed. */
  private static final long LOW = 1L << 20;
  /** 64 blocks past the shrunk end. */
  private static final long HIGH = 12L << 20;
  /** 64 blocks below the shrunk end, logged after HIGH. */
  private static final long LATER = 2L << 20;
  private static final int BLOCKS = 64;
  private static final long SPAN = (long) BLOCKS * BLOCK;

  private final MemoryBacking backing = MemoryBacking.allocate("mem:backing", BACKING);
  @RegisterExtension
  final LogCapture log = new LogCapture("io.pcache.core.engine");
  private final List<LogRecord> logged = log.records;


  private List<String> logLines(Level level) {
    synchronized (logged) {
      return logged.stream().filter(r -> r.getLevel() == level).map(LogRecord::getMessage).toList();
    }
  }

  /** Writes {@link #BLOCKS} blocks from {@code off}, each filled with {@code tag} and its number. */
  private static void writeSpan(CacheEngine e, long off, int tag) throws Exception {
    MemorySegment block = MemorySegment.ofArray(new byte[BLOCK]);
    for (int i = 0; i < BLOCKS; i++) {
      block.fill((byte) tag);
      block.set(ValueLayout.JAVA_INT_UNALIGNED, 0, i);
      e.write(off + (long) i * BLOCK, block, false);
    }
    e.flush(); // closes the open ksets: the next span is logged after this one
  }

  private static byte[] span(int tag) {
    byte[] want = new byte[(int) SPAN];
    MemorySegment s = MemorySegment.ofArray(want);
    for (int i = 0; i < BLOCKS; i++) {
      s.asSlice((long) i * BLOCK, BLOCK).fill((byte) tag);
      s.set(ValueLayout.JAVA_INT_UNALIGNED, (long) i * BLOCK, i);
    }
    return want;
  }

  private byte[] onBacking(long off) {
    return backing.memory().asSlice(off, SPAN).toArray(ValueLayout.JAVA_BYTE);
  }

  private static byte[] throughCache(CacheEngine e, long off) throws Exception {
    MemorySegment got = MemorySegment.ofArray(new byte[(int) SPAN]);
    e.read(off, got);
    return got.toArray(ValueLayout.JAVA_BYTE);
  }

  private static boolean waitFor(BooleanSupplier done, Duration limit) throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!done.getAsBoolean() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    return done.getAsBoolean();
  }

  @Test
  void writebackStopsBeforeDataPastTheEndAndGoesOnWhenTheSizeIsBack() throws Exception {
    CacheEngine e = CacheEngine.open(MemoryMedia.allocate("mem:cache", 512L << 20), backing,
        EngineOptions.defaults().withKsetFlushDelay(Duration.ofMillis(10)), new TestPolicy(70));
    try {
      e.writeback().pause();
      writeSpan(e, LOW, 1);
      writeSpan(e, HIGH, 2);
      writeSpan(e, LATER, 3);
      backing.resize(SHRUNK); // truncate -s 8M under the running engine
      e.writeback().resume();

      assertTrue(waitFor(() -> e.writeback().backingShrink() != null && e.counters().get("dirty_bytes") == 2 * SPAN,
          Duration.ofSeconds(20)), "writeback did not stop at the span past the end: " + e.positions() + ", dirty "
          + e.counters().get("dirty_bytes") + ", " + e.writeback().backingShrink());
      String positions = e.positions();
      Thread.sleep(2000); // several retries (100, 200, 400, 800 ms ...)

      // dirty_tail is past the span logged before (written back) and before the one past the end.
      assertEquals(positions, e.positions(), "dirty_tail moved while the device was too small");
      assertEquals(2 * SPAN, e.counters().get("dirty_bytes"), "dirty bytes: the span past the end and the one after it");
      assertArrayEquals(span(1), onBacking(LOW), "the span logged before the one past the end is written back");
      assertArrayEquals(new byte[(int) SPAN], onBacking(LATER), "the span logged after the one past the end is written back");
      assertEquals(SHRUNK, backing.currentSize(), "writeback extended the shrunk device again");
      assertArrayEquals(span(2), throughCache(e, HIGH), "the data past the end, read through the cache");
      assertArrayEquals(span(3), throughCache(e, LATER), "the data after it, read through the cache");

      String shrink = e.writeback().backingShrink();
      assertTrue(shrink.startsWith("backing device mem:backing shrank from " + BACKING + " to " + SHRUNK + " bytes: "
          + SPAN + " dirty bytes at offsets [" + HIGH + ", " + (HIGH + SPAN) + ") cannot be written back; writeback"
          + " stopped at dirty_tail "), shrink);
      assertTrue(shrink.contains("keeps all " + 2 * SPAN + " dirty bytes in the cache"), shrink);
      assertTrue(shrink.endsWith("until the device has at least " + (HIGH + SPAN) + " bytes again"), shrink);
      assertEquals(shrink, e.writeback().lastError());
      List<String> errors = logLines(Level.SEVERE);
      assertEquals(1, errors.size(), "logged at ERROR once, not at every retry: " + errors);
      assertTrue(errors.get(0).endsWith(": " + shrink), errors.get(0));

      backing.resize(BACKING); // the operator restores the size
      assertTrue(waitFor(e::clean, Duration.ofSeconds(20)), "writeback did not go on: " + e.positions() + ", "
          + e.writeback().backingShrink());
      assertArrayEquals(span(2), onBacking(HIGH));
      assertArrayEquals(span(3), onBacking(LATER));
      assertNull(e.writeback().backingShrink());
      assertNull(e.writeback().lastError());
      assertEquals(1, logLines(Level.SEVERE).size(), logLines(Level.SEVERE).toString());
      assertTrue(logLines(Level.INFO).stream().anyMatch(l -> l.contains("backing device mem:backing has its " + BACKING
          + " bytes again; writeback goes on")), logLines(Level.INFO).toString());
    } finally {
      e.close();
    }
  }

  @Test
  void aShrinkBelowNoDirtyDataIsReportedAndWritebackGoesOn() throws Exception {
    CacheEngine e = CacheEngine.open(MemoryMedia.allocate("mem:cache", 512L << 20), backing,
        EngineOptions.defaults().withKsetFlushDelay(Duration.ofMillis(10)), new TestPolicy(70));
    try {
      backing.resize(SHRUNK);
      writeSpan(e, LOW, 1);
      assertTrue(waitFor(e::clean, Duration.ofSeconds(20)), e.positions());
      assertArrayEquals(span(1), onBacking(LOW));
      assertEquals("backing device mem:backing shrank from " + BACKING + " to " + SHRUNK + " bytes while pcache runs;"
          + " writeback goes on while the dirty data it reaches lies below the new end (what was on the device past "
          + SHRUNK + " is gone, and reads there fail)", e.writeback().backingShrink());
      assertNull(e.writeback().lastError());
      assertEquals(1, logLines(Level.SEVERE).size(), logLines(Level.SEVERE).toString());
    } finally {
      e.close();
    }
  }
}
