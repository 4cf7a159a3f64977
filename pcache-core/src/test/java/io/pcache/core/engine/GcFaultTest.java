package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.core.format.Layout;
import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * GC under media faults (issue #16): a failed key_tail or generation persist never makes GC drop a
 * segment reference twice, a generation bump that is not durable keeps its segment out of use
 * (and frees it once persisted), and an {@link Error} from the media does not end the GC thread.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class GcFaultTest {

  private static final int BLOCK = 4096;
  private static final long KEY_TAIL_FROM = Layout.CACHE_CTRL_OFF;
  private static final long KEY_TAIL_TO = Layout.CACHE_CTRL_OFF + (long) Layout.META_INDEX_MAX * Layout.POS_STRUCT_SIZE;

  private final PersistFaultMedia media = new PersistFaultMedia(MemoryMedia.allocate("mem:cache", 512L << 20));
  private final MemoryBacking backing = MemoryBacking.allocate("mem:backing", 64L << 20);
  private CacheEngine engine;

  @AfterEach
  void close() throws Exception {
    if (engine != null) {
      engine.close();
    }
  }

  private CacheEngine open() throws Exception {
    // TestPolicy(0): GC reclaims every kset as soon as writeback has passed it.
    engine = CacheEngine.open(media, backing, EngineOptions.defaults().withKsetFlushDelay(Duration.ofMillis(5)),
        new TestPolicy(0));
    return engine;
  }

  private static MemorySegment block(int tag) {
    MemorySegment b = MemorySegment.ofArray(new byte[BLOCK]);
    b.fill((byte) tag);
    return b;
  }

  private static byte[] read(CacheEngine e, long off, int len) throws Exception {
    MemorySegment got = MemorySegment.ofArray(new byte[len]);
    e.read(off, got);
    return got.toArray(ValueLayout.JAVA_BYTE);
  }

  private static boolean waitFor(BooleanSupplier done, Duration limit) throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!done.getAsBoolean() && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    return done.getAsBoolean();
  }

  /** Everything written back and reclaimed: key_tail at key_head. */
  private static boolean reclaimed(CacheEngine e) {
    return e.clean() && e.log.keyTail().equals(e.log.head());
  }

  /** With every kset reclaimed, only the data heads hold references: one per head with a segment. */
  private static int referenceSum(CacheEngine e) {
    int sum = 0;
    for (int i = 0; i < e.segments.count(); i++) {
      int refs = e.segments.get(i).refs();
      assertTrue(refs >= 0, "segment " + i + " has " + refs + " references");
      sum += refs;
    }
    return sum;
  }

  @Test
  void aFailedKeyTailPersistDoesNotDropReferencesTwice() throws Exception {
    CacheEngine e = open();
    media.failPersists(KEY_TAIL_FROM, KEY_TAIL_TO, 1, () -> new IOException("EIO (injected) on key_tail"));
    e.write(0, block(1), false);
    e.flush();
    assertTrue(waitFor(() -> media.thrown.get() == 1 && reclaimed(e), Duration.ofSeconds(20)),
        "GC did not pass the kset after one failed key_tail persist: " + e.positions() + ", thrown " + media.thrown);
    assertEquals(1, e.counters().get("gc_errors"));
    // The write's key was reclaimed once; its segment is the current data head, which holds it.
    assertEquals(1, referenceSum(e), "references after GC (only the data head should hold one)");
    assertEquals(0, e.counters().get("gc_segments_freed"), "GC freed a segment that is still the data head");

    // The sequel: more writes into the data head, a discard (its zero extent takes a free
    // segment), more writes; every acknowledged, flushed write must read back exactly.
    e.write(1L << 20, block(2), false);
    e.flush();
    e.discard(2L << 20, 64 * 1024);
    e.write(3L << 20, block(3), false);
    e.flush();
    assertTrue(waitFor(() -> reclaimed(e), Duration.ofSeconds(20)), e.positions());
    assertArrayEquals(block(1).toArray(ValueLayout.JAVA_BYTE), read(e, 0, BLOCK));
    assertArrayEquals(block(2).toArray(ValueLayout.JAVA_BYTE), read(e, 1L << 20, BLOCK));
    assertArrayEquals(new byte[64 * 1024], read(e, 2L << 20, 64 * 1024));
    assertArrayEquals(block(3).toArray(ValueLayout.JAVA_BYTE), read(e, 3L << 20, BLOCK));
    assertEquals(2, referenceSum(e), "references after more writes (the data head's and the zero extent's)");
    assertNull(e.gcError(), "a later round succeeded: " + e.gcError());
  }

  @Test
  void aGenerationBumpThatCannotBePersistedHoldsItsSegmentUntilItIs() throws Exception {
    CacheEngine e = open();
    e.gc.stop(); // filled first, reclaimed below with the fault armed
    // Fill the data head's first segment exactly, so the head lets it go and only keys hold it.
    MemorySegment chunk = MemorySegment.ofArray(new byte[1 << 20]);
    long filled = 0;
    int seg = -1;
    for (long off = 0; filled < Layout.SEG_DATA_SIZE; off += chunk.byteSize()) {
      int len = (int) Math.min(chunk.byteSize(), Layout.SEG_DATA_SIZE - filled);
      chunk.fill((byte) (off >>> 20));
      e.write(off, chunk.asSlice(0, len), false);
      filled += len;
    }
    e.flush();
    for (int i = 0; i < e.segments.count(); i++) {
      if (e.segments.get(i).refs() > 0 && e.segments.map().isUsed(i) && !e.log.ksetSegment(i)) {
        seg = i;
        break;
      }
    }
    assertTrue(seg >= 0, "no data segment with references");
    final int full = seg;
    long genFrom = Layout.segmentOffset(full) + Layout.SEG_CTRL_OFF;
    media.failPersists(genFrom, genFrom + (long) Layout.META_INDEX_MAX * Layout.SEG_GEN_STRUCT_SIZE, Integer.MAX_VALUE,
        () -> new IOException("EIO (injected) on seg_gen"));
    long gen = e.segments.get(full).gen();
    Gc gc = new Gc(e); // the engine's GC thread is stopped: a new one, as the engine starts it
    try {
      gc.start();
      assertTrue(waitFor(() -> reclaimed(e) && e.counters().get("segments_held") == 1, Duration.ofSeconds(20)),
          "GC did not pass the segment's keys: " + e.positions() + ", " + e.counters());
      assertEquals(0, e.segments.get(full).refs());
      assertEquals(gen + 1, e.segments.get(full).gen(), "the keys into the segment are stale in memory");
      assertTrue(e.segments.map().isUsed(full), "a segment whose generation bump is not durable was freed");
      assertEquals(0, e.counters().get("gc_segments_freed"));
      assertTrue(e.counters().get("seg_gen_errors") >= 1);
      String error = gc.lastError();
      assertNotNull(error);
      assertTrue(error.contains("segment " + full + " (media mem:cache offset " + genFrom + " length "
          + Layout.SEG_GEN_STRUCT_SIZE + ")"), error);

      media.failPersists(0, 0, 0, null); // the media recovers
      gc.kick();
      assertTrue(waitFor(() -> e.counters().get("segments_held") == 0, Duration.ofSeconds(20)), e.counters().toString());
      assertTrue(!e.segments.map().isUsed(full), "the segment was not freed once its generation was persisted");
      assertEquals(1, e.counters().get("gc_segments_freed"));
      e.segments.get(full).loadGen();
      assertEquals(gen + 1, e.segments.get(full).gen(), "the generation on the media");
      assertNull(gc.lastError());
    } finally {
      gc.stop();
    }
  }

  @Test
  void aLastKsetNamingNoKsetSegmentStopsGcLatched() throws Exception {
    CacheEngine e = open();
    e.writeback().pause();
    e.write(0, block(1), false);
    e.flush();
    int bogus = e.segments.count() - 1; // free: neither a kset segment nor data
    assertTrue(!e.log.ksetSegment(bogus) && !e.segments.map().isUsed(bogus));
    // The kset at key_tail becomes a LAST kset (valid CRC) naming that segment, and dirty_tail is
    // put in another segment, so that GC would follow the LAST kset and free the log's segment 0.
    io.pcache.core.format.Kset.encodeLast(media.delegate().memory(), Layout.dataOffset(0, 0), bogus);
    e.log.writeDirtyTail(new LogPos(bogus - 1, 0));
    e.gc.kick();
    String expect = "GC stopped until restart: the LAST kset at key_tail 0:0 (media mem:cache offset "
        + Layout.dataOffset(0, 0) + " length " + Layout.KSET_HEADER_SIZE + ") names segment " + bogus
        + ", which is not a kset segment of the log";
    assertTrue(waitFor(() -> String.valueOf(e.gcError()).contains(expect), Duration.ofSeconds(10)), e.gcError());
    Thread.sleep(300); // more rounds: the stop is latched, not retried
    assertTrue(e.gcError().contains(expect), e.gcError());
    assertEquals(new LogPos(0, 0), e.log.keyTail(), "key_tail moved");
    assertTrue(e.log.ksetSegment(0) && e.segments.map().isUsed(0), "the log's segment was freed");
    assertEquals(1, e.counters().get("gc_errors"), "counted once, then latched");
  }

  @Test
  void anErrorFromTheMediaDoesNotEndGc() throws Exception {
    CacheEngine e = open();
    media.failPersists(KEY_TAIL_FROM, KEY_TAIL_TO, 1, () -> new InternalError("a fault occurred in an unsafe memory access"));
    e.write(0, block(1), false);
    e.flush();
    assertTrue(waitFor(() -> media.thrown.get() == 1 && e.gcError() != null, Duration.ofSeconds(20)), e.positions());
    assertTrue(e.gcError().contains("InternalError: a fault occurred"), e.gcError());
    assertEquals(1, e.counters().get("gc_errors"));
    assertTrue(waitFor(() -> reclaimed(e), Duration.ofSeconds(20)), "GC did not go on after an Error: " + e.positions());
    e.write(BLOCK, block(2), false);
    e.flush();
    assertTrue(waitFor(() -> reclaimed(e) && e.gcError() == null, Duration.ofSeconds(20)), e.positions());
    assertEquals(1, referenceSum(e));
  }
}
