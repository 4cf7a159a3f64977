package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.BlockIOException;
import io.pcache.core.format.KeyRecord;
import io.pcache.core.format.Kset;
import io.pcache.core.format.Layout;
import io.pcache.core.logging.LogCapture;
import io.pcache.testkit.MemoryMedia;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Timeout;

/**
 * Writeback over records and media it cannot trust (issue #16): a dirty extent whose data CRC
 * fails stops writeback before it (latched, named) until a newer write covers it; a stale record
 * is not written; an impossible record or a LAST chain that cannot be followed stops writeback,
 * latched; an {@link Error} from a write does not end the worker. In each case the backing device
 * keeps a prefix of the write history: nothing logged after the stop is written.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class WritebackFaultTest {

  private static final int BLOCK = 4096;
  private static final long BACKING = 64L << 20;
  private static final long A = 0;
  private static final long B = 1L << 20;

  /** Write failures to inject: each write to the backing device takes one (null: none). */
  private final List<Throwable> writeFaults = new ArrayList<>();
  private final ForwardingBacking backing = new ForwardingBacking(BACKING) {
    @Override
    public void write(long offset, MemorySegment src) throws BlockIOException {
      Throwable t = null;
      synchronized (writeFaults) {
        if (!writeFaults.isEmpty()) {
          t = writeFaults.remove(0);
        }
      }
      if (t instanceof Error err) {
        throw err;
      }
      super.write(offset, src);
    }
  };
  private final MemoryMedia media = MemoryMedia.allocate("mem:cache", 512L << 20);
  private CacheEngine engine;
  @RegisterExtension
  final LogCapture log = new LogCapture("io.pcache.core.engine");
  private final List<LogRecord> logged = log.records;

  @AfterEach
  void close() throws Exception {
    if (engine != null) {
      engine.close();
    }
  }

  private List<String> errors() {
    synchronized (logged) {
      return logged.stream().filter(r -> r.getLevel() == Level.SEVERE).map(LogRecord::getMessage).toList();
    }
  }

  private CacheEngine open(boolean dataCrc) throws Exception {
    engine = CacheEngine.open(media, backing, EngineOptions.defaults().withDataCrc(dataCrc)
        .withKsetFlushDelay(Duration.ofMillis(5)), new TestPolicy(70));
    return engine;
  }

  private static MemorySegment block(int tag) {
    MemorySegment b = MemorySegment.ofArray(new byte[BLOCK]);
    b.fill((byte) tag);
    return b;
  }

  private static byte[] bytes(int tag) {
    return block(tag).toArray(ValueLayout.JAVA_BYTE);
  }

  private byte[] onBacking(long off) {
    return backing.inner.memory().asSlice(off, BLOCK).toArray(ValueLayout.JAVA_BYTE);
  }

  private static boolean waitFor(BooleanSupplier done, Duration limit) throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!done.getAsBoolean() && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    return done.getAsBoolean();
  }

  /** A at offset A (tag 1) in the first kset, B (tag 2) in the second; writeback paused. */
  private CacheEngine twoKsets(boolean dataCrc) throws Exception {
    CacheEngine e = open(dataCrc);
    e.writeback().pause();
    e.write(A, block(1), false);
    e.flush();
    e.write(B, block(2), false);
    e.flush();
    return e;
  }

  /** The first kset of the log (at dirty_tail 0:0), as on the media. */
  private Kset readFirstKset() {
    MemorySegment at = media.memory().asSlice(Layout.dataOffset(0, 0), Layout.KSET_SIZE_MAX);
    assertEquals(Kset.Check.VALID, Kset.check(at, 0, at.byteSize()));
    return Kset.decode(at, 0);
  }

  /** Holds while writeback is stopped: positions, dirty data and the backing device do not change. */
  private void assertStopped(CacheEngine e, String positions) throws Exception {
    Thread.sleep(800); // several retries (100, 200, 400 ms)
    assertEquals(positions, e.positions(), "dirty_tail moved");
    assertEquals(2L * BLOCK, e.counters().get("dirty_bytes"));
    assertArrayEquals(new byte[BLOCK], onBacking(B), "the kset after the stop was written back");
  }

  @Test
  void aDirtyExtentThatFailsItsCrcStopsWritebackUntilANewerWriteCoversIt() throws Exception {
    CacheEngine e = twoKsets(true);
    KeyRecord a = readFirstKset().keys().get(0);
    long at = e.segments.get(a.segId()).dataOffset + a.segOff();
    media.memory().set(ValueLayout.JAVA_BYTE, at + 100, (byte) 0x55); // media damage under A
    String positions = e.positions();
    e.writeback().resume();

    String expect = "dirty extent at backing offset " + A + " length " + BLOCK + " (cache segment " + a.segId()
        + " offset " + a.segOff() + ", kset at 0:0 (media offset " + Layout.dataOffset(0, 0) + ")) failed its data CRC";
    assertTrue(waitFor(() -> String.valueOf(e.writeback().lastError()).startsWith(expect), Duration.ofSeconds(10)),
        String.valueOf(e.writeback().lastError()));
    assertStopped(e, positions);
    assertArrayEquals(new byte[BLOCK], onBacking(A), "the bad extent was written back");
    assertEquals(1, e.counters().get("crc_errors"));
    assertEquals(1, errors().stream().filter(l -> l.contains(expect)).count(), "logged at ERROR once: " + errors());
    assertTrue(e.writeback().lastError().contains("Rewrite [0, 4096)"), e.writeback().lastError());

    // The operator rewrites the range: writeback goes on, the newer data in the same batch.
    e.write(A, block(3), false);
    e.flush();
    assertTrue(waitFor(e::clean, Duration.ofSeconds(10)), e.positions() + " " + e.writeback().lastError());
    assertArrayEquals(bytes(3), onBacking(A));
    assertArrayEquals(bytes(2), onBacking(B));
    assertNull(e.writeback().lastError());
  }

  @Test
  void aStaleRecordIsNotWrittenBack() throws Exception {
    CacheEngine e = twoKsets(false);
    KeyRecord a = readFirstKset().keys().get(0);
    // The segment A's key points into is reclaimed under it (as after GC's crash window): its
    // generation moves on, and whatever the segment holds now must not reach the backing device.
    e.segments.get(a.segId()).bumpGen();
    e.writeback().resume();
    assertTrue(waitFor(e::clean, Duration.ofSeconds(10)), e.positions() + " " + e.writeback().lastError());
    assertArrayEquals(new byte[BLOCK], onBacking(A), "a stale record was written back");
  }

  @Test
  void anImpossibleRecordStopsWriteback() throws Exception {
    CacheEngine e = twoKsets(false);
    KeyRecord a = readFirstKset().keys().get(0);
    KeyRecord bad = new KeyRecord(BACKING + (1L << 20), a.len(), a.flags(), a.segId(), a.segOff(), a.segGen(),
        a.dataCrc());
    Kset.encode(media.memory(), Layout.dataOffset(0, 0), List.of(bad)); // valid CRC, impossible offset
    String positions = e.positions();
    e.writeback().resume();
    assertTrue(waitFor(() -> String.valueOf(e.writeback().lastError()).startsWith("key 0 of the kset at 0:0 (media offset "
        + Layout.dataOffset(0, 0) + ") cannot be right"), Duration.ofSeconds(10)), String.valueOf(e.writeback().lastError()));
    assertStopped(e, positions);
    assertEquals(1, errors().stream().filter(l -> l.contains("cannot be right")).count(), errors().toString());
  }

  @Test
  void aLastChainThatLoopsStopsWriteback() throws Exception {
    CacheEngine e = twoKsets(false);
    Kset.encodeLast(media.memory(), Layout.dataOffset(0, 0), 0); // LAST naming its own segment: a loop
    String positions = e.positions();
    e.writeback().resume();
    assertTrue(waitFor(() -> String.valueOf(e.writeback().lastError()).startsWith("the LAST kset at 0:0 (media offset "
        + Layout.dataOffset(0, 0) + ") names segment 0, which is not a kset segment of the log"), Duration.ofSeconds(10)),
        String.valueOf(e.writeback().lastError()));
    assertStopped(e, positions);
  }

  @Test
  void anErrorFromAWriteDoesNotEndWriteback() throws Exception {
    CacheEngine e = open(false);
    synchronized (writeFaults) {
      writeFaults.add(new InternalError("a fault occurred in an unsafe memory access operation"));
    }
    e.write(A, block(1), false);
    e.flush();
    assertTrue(waitFor(() -> e.counters().get("writeback_errors") >= 1, Duration.ofSeconds(10)), e.counters().toString());
    assertTrue(waitFor(e::clean, Duration.ofSeconds(10)), "writeback did not go on after an Error: " + e.positions());
    assertArrayEquals(bytes(1), onBacking(A));
    e.write(B, block(2), false);
    e.flush();
    assertTrue(waitFor(e::clean, Duration.ofSeconds(10)), e.positions());
    assertArrayEquals(bytes(2), onBacking(B));
    assertTrue(errors().stream().anyMatch(l -> l.contains("InternalError: a fault occurred")), errors().toString());
  }
}
