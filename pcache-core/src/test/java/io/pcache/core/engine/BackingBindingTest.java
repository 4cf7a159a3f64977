package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.backing.BackingDevice;
import io.pcache.core.format.BackingRecord;
import io.pcache.core.format.CacheInfo;
import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A cache knows its backing device (issue #15, item 5): a cache holding dirty data for device A is
 * refused with device B, unless the change is accepted; a cache holding A's clean data is
 * invalidated before it could serve any of it as B's; the same device starts as before.
 *
 * <p>A and B are memory devices filled with 0xAA and 0xBB; the cache's writes are 0x11.
 */
class BackingBindingTest {

  static final long MEDIA = 512L << 20;
  static final long BACKING = 16L << 20;
  static final int LEN = 64 << 10;
  static final long CLEAN_OFF = 1L << 20;

  final MemoryMedia media = MemoryMedia.allocate("mem:cache", MEDIA);
  final MemoryBacking a = filled("mem:A", (byte) 0xAA);
  final MemoryBacking b = filled("mem:B", (byte) 0xBB);
  final List<LogRecord> logged = new ArrayList<>();
  final Logger jul = Logger.getLogger("io.pcache.core.engine");
  final Handler capture = new Handler() {
    @Override
    public void publish(LogRecord r) {
      synchronized (logged) {
        logged.add(r);
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };

  @BeforeEach
  void captureLog() {
    jul.addHandler(capture);
  }

  @AfterEach
  void stopCapture() {
    jul.removeHandler(capture);
  }

  static MemoryBacking filled(String name, byte value) {
    MemoryBacking m = MemoryBacking.allocate(name, BACKING);
    m.memory().fill(value);
    return m;
  }

  static byte[] bytes(int len, byte value) {
    byte[] b = new byte[len];
    Arrays.fill(b, value);
    return b;
  }

  static byte[] content(MemoryBacking m) {
    return m.memory().toArray(ValueLayout.JAVA_BYTE);
  }

  private CacheEngine open(BackingDevice backing, EngineOptions options) throws IOException {
    return CacheEngine.open(media.reopen(), backing, options, new TestPolicy(70));
  }

  private CacheEngine open(BackingDevice backing) throws IOException {
    return open(backing, EngineOptions.defaults());
  }

  private static byte[] read(CacheEngine e, long off, int len) throws IOException {
    byte[] b = new byte[len];
    e.read(off, MemorySegment.ofArray(b));
    return b;
  }

  private static void drain(CacheEngine e) throws Exception {
    long mark = e.drainMark();
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (!e.writtenBack(mark)) {
      assertTrue(System.nanoTime() < deadline, "writeback did not drain in 30 s");
      Thread.sleep(2);
    }
  }

  /** Leaves 0x11 at offset 0 dirty in the cache for {@code backing} (writeback paused). */
  private void dirtyCacheFor(MemoryBacking backing) throws Exception {
    try (CacheEngine e = open(backing)) {
      e.writeback().pause();
      e.write(0, MemorySegment.ofArray(bytes(LEN, (byte) 0x11)), false);
      e.flush();
      assertFalse(e.clean());
    }
    assertArrayEquals(bytes(LEN, (byte) 0xAA), Arrays.copyOf(content(a), LEN), "still dirty: not on A yet");
  }

  private List<String> messages(Level level) {
    synchronized (logged) {
      return logged.stream().filter(r -> r.getLevel().equals(level)).map(LogRecord::getMessage).toList();
    }
  }

  private String onlyWarning() {
    List<String> w = messages(Level.WARNING);
    assertEquals(1, w.size(), "one warning: " + w);
    return w.get(0);
  }

  private static void assertNamesBoth(String message) {
    assertTrue(message.contains("mem:A") && message.contains("mem:B"), "must name both devices: " + message);
    assertTrue(message.contains(BACKING + " bytes"), "must give the sizes: " + message);
    assertTrue(message.contains("memory "), "must give the kind of identity: " + message);
  }

  @Test
  void dirtyCacheWithAnotherBackingIsRefusedAndNothingIsWritten() throws Exception {
    dirtyCacheFor(a);
    byte[] beforeA = content(a);
    byte[] beforeB = content(b);
    byte[] beforeRecord = media.memory().asSlice(0, 4096).toArray(ValueLayout.JAVA_BYTE);

    IOException e = assertThrows(IOException.class, () -> open(b));
    String m = e.getMessage();
    assertNamesBoth(m);
    assertTrue(m.contains("dirty data"), m);
    assertTrue(m.contains("--backing-changed accept"), m);
    assertTrue(m.contains("pcache format --force --cache mem:cache"), m);
    assertTrue(m.contains("Start with the backing device the cache was used with"), m);
    assertArrayEquals(beforeA, content(a), "nothing written to A");
    assertArrayEquals(beforeB, content(b), "nothing written to B");
    assertArrayEquals(beforeRecord, media.memory().asSlice(0, 4096).toArray(ValueLayout.JAVA_BYTE), "record unchanged");

    // The right device still gets its data.
    try (CacheEngine engine = open(a)) {
      drain(engine);
    }
    assertArrayEquals(bytes(LEN, (byte) 0x11), Arrays.copyOf(content(a), LEN));
    assertArrayEquals(beforeB, content(b));
  }

  @Test
  void acceptedChangeWritesTheDirtyDataToTheNewDevice() throws Exception {
    dirtyCacheFor(a);
    byte[] beforeA = content(a);
    try (CacheEngine engine = open(b, EngineOptions.defaults().withAcceptBackingChange(true))) {
      String w = onlyWarning();
      assertNamesBoth(w);
      assertTrue(w.contains("accepted"), w);
      assertArrayEquals(bytes(LEN, (byte) 0x11), read(engine, 0, LEN));
      drain(engine);
    }
    assertArrayEquals(bytes(LEN, (byte) 0x11), Arrays.copyOf(content(b), LEN), "the dirty data went to B");
    assertArrayEquals(beforeA, content(a), "and not to A");
    assertTrue(b.identity().sameDevice(BackingRecord.load(media).stored().identity()), "B is recorded now");
    try (CacheEngine engine = open(b)) {
      assertEquals(List.of(), messages(Level.WARNING).subList(1, messages(Level.WARNING).size()));
    }
  }

  @Test
  void cleanCacheWithAnotherBackingIsInvalidatedKeepingItsSettings() throws Exception {
    EngineOptions crc = EngineOptions.defaults().withDataCrc(true);
    try (CacheEngine e = open(a, crc)) {
      e.setGcPercent(40);
      e.write(0, MemorySegment.ofArray(bytes(LEN, (byte) 0x11)), false);
      assertArrayEquals(bytes(LEN, (byte) 0xAA), read(e, CLEAN_OFF, LEN)); // a clean key of A
      drain(e);
      assertTrue(e.keyCount() > 0);
    }
    try (CacheEngine e = open(b, crc)) {
      String w = onlyWarning();
      assertNamesBoth(w);
      assertTrue(w.contains("invalidating"), w);
      assertEquals(0, e.keyCount(), "nothing of A's left in the cache");
      assertArrayEquals(bytes(LEN, (byte) 0xBB), read(e, 0, LEN), "B's data, not A's cached write");
      assertArrayEquals(bytes(LEN, (byte) 0xBB), read(e, CLEAN_OFF, LEN), "B's data, not A's cached read");
      CacheInfo info = CacheFormat.cacheInfo(media).orElseThrow();
      assertTrue(info.dataCrc(), "data_crc kept");
      assertEquals(40, info.gcPercent(), "gc_percent kept");
      assertTrue(b.identity().sameDevice(BackingRecord.load(media).stored().identity()), "B is recorded now");
    }
    assertArrayEquals(bytes(LEN, (byte) 0x11), Arrays.copyOf(content(a), LEN), "A keeps what was written back to it");
  }

  @Test
  void theSameDeviceStartsAsBeforeAndAMovedOneIsRecordedAnew() throws Exception {
    dirtyCacheFor(a);
    MemoryBacking renamed = new MemoryBacking("mem:A-renamed", a.memory());
    try (CacheEngine e = open(renamed)) {
      assertEquals(List.of(), messages(Level.WARNING));
      assertTrue(messages(Level.INFO).stream().anyMatch(m -> m.contains("now at mem:A-renamed (was mem:A)")), messages(Level.INFO).toString());
      assertArrayEquals(bytes(LEN, (byte) 0x11), read(e, 0, LEN));
      drain(e);
    }
    assertEquals("mem:A-renamed", BackingRecord.load(media).stored().identity().description());
    assertArrayEquals(bytes(LEN, (byte) 0x11), Arrays.copyOf(content(a), LEN));
  }

  @Test
  void aCacheWithoutRecordRecordsItsBackingDevice() throws Exception {
    dirtyCacheFor(a);
    assertEquals(BackingRecord.Status.VALID, BackingRecord.load(media).status(), "recorded at the first start");
    media.memory().asSlice(0, 4096).fill((byte) 0); // as dm-pcache or an older pcache leaves it
    try (CacheEngine e = open(a)) {
      assertTrue(messages(Level.INFO).stream().anyMatch(m -> m.contains("recorded its backing device mem:A")), messages(Level.INFO).toString());
      BackingRecord.Found found = BackingRecord.load(media);
      assertEquals(BackingRecord.Status.VALID, found.status());
      assertEquals(a.identity(), found.stored().identity());
      drain(e);
    }
  }

  @Test
  void aCorruptRecordIsAMismatch() throws Exception {
    dirtyCacheFor(a);
    // One damaged replica: the other one still says A.
    media.memory().set(ValueLayout.JAVA_BYTE, 100, (byte) 0x5A);
    IOException other = assertThrows(IOException.class, () -> open(b));
    assertNamesBoth(other.getMessage());
    // Both damaged: we cannot tell whose the dirty data is, even with A.
    media.memory().set(ValueLayout.JAVA_BYTE, BackingRecord.SLOT_SIZE + 100, (byte) 0x5A);
    IOException refused = assertThrows(IOException.class, () -> open(a));
    assertTrue(refused.getMessage().contains("the record of it is corrupt"), refused.getMessage());
    assertTrue(refused.getMessage().contains("--backing-changed accept"), refused.getMessage());
    try (CacheEngine e = open(a, EngineOptions.defaults().withAcceptBackingChange(true))) {
      assertTrue(onlyWarning().contains("accepted"));
      drain(e);
    }
    assertEquals(BackingRecord.Status.VALID, BackingRecord.load(media).status(), "rewritten");
    assertArrayEquals(bytes(LEN, (byte) 0x11), Arrays.copyOf(content(a), LEN));
  }

  @Test
  void anEmptyCacheIsRecordedForTheNewDeviceWithoutFormatting() throws Exception {
    try (CacheEngine e = open(a)) {
      assertEquals(0, e.keyCount());
    }
    try (CacheEngine e = open(b)) {
      assertEquals(List.of(), messages(Level.WARNING));
      assertTrue(messages(Level.INFO).stream().anyMatch(m -> m.contains("holds no data")), messages(Level.INFO).toString());
    }
    assertTrue(b.identity().sameDevice(BackingRecord.load(media).stored().identity()));
  }
}
