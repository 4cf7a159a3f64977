package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.core.format.KeyRecord;
import io.pcache.core.format.Kset;
import io.pcache.core.format.Layout;
import io.pcache.core.format.Meta;
import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A damaged kset log or superblock is refused, repaired or cut as {@link LogTail} and {@link
 * CacheFormat} say, and never loses acknowledged writes silently. Each case writes {@value #WRITES}
 * FUA writes of 4 KiB with writeback paused, so the log holds one 64-byte kset per write from
 * segment 0 offset 0, then damages the image and starts again.
 */
class LogCorruptionTest {

  static final long MEDIA = 512L << 20;
  static final int WRITES = 24;
  static final int KSET = Kset.sizeOf(1);

  MemoryMedia media;
  MemoryBacking backing;
  byte[][] data = new byte[WRITES][];

  static long offsetOf(int i) {
    return (long) i * 3 * 4096;
  }

  /** Media offset of kset i (0-based) of the log. */
  static long kset(int i) {
    return Layout.dataOffset(0, (long) i * KSET);
  }

  @BeforeEach
  void writeHistory() throws Exception {
    media = MemoryMedia.allocate("mem:cache", MEDIA);
    backing = MemoryBacking.allocate("mem:backing", 64L << 20);
    SplittableRandom r = new SplittableRandom(7);
    try (CacheEngine e = CacheEngine.open(media, backing, EngineOptions.defaults(), new TestPolicy(70))) {
      e.writeback().pause();
      for (int i = 0; i < WRITES; i++) {
        data[i] = new byte[4096];
        r.nextBytes(data[i]);
        e.write(offsetOf(i), MemorySegment.ofArray(data[i]), true);
      }
    }
    assertEquals(Layout.KSET_MAGIC, media.memory().get(Meta.U64, kset(WRITES - 1) + 8), "one kset per FUA write");
  }

  private CacheEngine open(EngineOptions options) throws IOException {
    return CacheEngine.open(media.reopen(), backing, options, new TestPolicy(70));
  }

  private IOException refused() {
    return assertThrows(IOException.class, () -> open(EngineOptions.defaults()).close());
  }

  private static byte[] read(CacheEngine e, int i) throws Exception {
    MemorySegment dst = MemorySegment.ofArray(new byte[4096]);
    e.read(offsetOf(i), dst);
    return dst.toArray(ValueLayout.JAVA_BYTE);
  }

  private void allExact() throws Exception {
    try (CacheEngine e = open(EngineOptions.defaults())) {
      for (int i = 0; i < WRITES; i++) {
        assertArrayEquals(data[i], read(e, i), "write " + i);
      }
    }
  }

  private void flip(long at, int bit) {
    byte b = media.memory().get(ValueLayout.JAVA_BYTE, at);
    media.memory().set(ValueLayout.JAVA_BYTE, at, (byte) (b ^ (1 << bit)));
  }

  private Inspector.Report check() throws IOException {
    return new Inspector(media.reopen()).inspect(true, null);
  }

  @Test
  void aFlippedBitInAMiddleKsetIsRefusedThenCutOnRequest() throws Exception {
    flip(kset(5) + Layout.KSET_HEADER_SIZE + 9, 3); // key 0's len
    IOException e = refused();
    assertTrue(e.getMessage().contains("the kset log is corrupt"), e.getMessage());
    assertTrue(e.getMessage().contains("segment 0 offset 320 (media offset " + kset(5) + ")"), e.getMessage());
    assertTrue(e.getMessage().contains((WRITES - 6) + " valid ksets with " + (WRITES - 6) + " keys follow it"),
        e.getMessage());
    assertTrue(e.getMessage().contains("--recover-log cut"), e.getMessage());
    Inspector.Report r = check();
    assertFalse(r.ok(), r.toString());
    assertTrue(r.problems().get(0).contains("valid ksets"), r.problems().toString());

    try (CacheEngine cut = open(EngineOptions.defaults().withRecoverLog(EngineOptions.RecoverLog.CUT))) {
      assertEquals(WRITES - 6, cut.replayReport().droppedKeys(), cut.replayReport().toString());
      for (int i = 0; i < 5; i++) {
        assertArrayEquals(data[i], read(cut, i), "write " + i + " before the cut");
      }
      for (int i = 5; i < WRITES; i++) {
        assertArrayEquals(new byte[4096], read(cut, i), "write " + i + " was dropped: the backing device's data");
      }
    }
    // The cut is durable: the next start needs no flag and finds nothing after it.
    try (CacheEngine again = open(EngineOptions.defaults())) {
      assertArrayEquals(data[4], read(again, 4));
    }
    assertTrue(check().ok(), check().problems().toString());
  }

  @Test
  void aDamagedKeyCountIsRepairedFromTheCrc() throws Exception {
    media.memory().set(Meta.U32, kset(0) + 4, 77);
    Inspector.Report r = check();
    assertTrue(r.ok(), r.problems().toString());
    assertTrue(r.warnings().stream().anyMatch(w -> w.contains("CRC matches once it is restored")), r.warnings().toString());
    allExact();
    assertEquals(1, media.memory().get(Meta.U32, kset(0) + 4), "run rewrote the header");
  }

  @Test
  void aZeroedMagicOrAFlippedCrcBitIsRepaired() throws Exception {
    media.memory().set(Meta.U64, kset(3) + 8, 0L);
    flip(kset(WRITES - 1) + 2, 6); // the last kset's stored CRC
    allExact();
    Inspector.Report r = check();
    assertTrue(r.ok() && r.warnings().isEmpty(), r.toString());
  }

  @Test
  void garbageInAMagicIsDamageNotATornWrite() throws Exception {
    media.memory().set(Meta.U64, kset(WRITES - 1) + 8, 0x1234_5678_9ABCL);
    media.memory().set(Meta.U32, kset(WRITES - 1), 0); // and its CRC word: nothing to restore from
    media.memory().set(Meta.U32, kset(WRITES - 1) + 4, 0);
    IOException e = refused();
    assertTrue(e.getMessage().contains("neither a kset's nor zero"), e.getMessage());
  }

  @Test
  void aZeroedSectorInTheMiddleOfTheLogIsFoundBehindIt() throws Exception {
    media.memory().asSlice(Layout.dataOffset(0, 512), 512).fill((byte) 0); // ksets 8..15
    IOException e = refused();
    assertTrue(e.getMessage().contains("a valid kset follows it at segment 0 offset 1024"), e.getMessage());
  }

  @Test
  void aTornLastKsetIsTheEndOfTheLog() throws Exception {
    // What a cut during the last kset's write leaves: its CRC word, and its key's second half, never written.
    media.memory().set(Meta.U64, kset(WRITES - 1), 0L);
    media.memory().asSlice(kset(WRITES - 1) + Layout.KSET_HEADER_SIZE + 16, 24).fill((byte) 0);
    try (CacheEngine e = open(EngineOptions.defaults())) {
      assertEquals(WRITES - 1, e.replayReport().keys());
      assertEquals(0, e.replayReport().droppedKeys());
      for (int i = 0; i < WRITES - 1; i++) {
        assertArrayEquals(data[i], read(e, i), "write " + i);
      }
    }
    assertTrue(check().ok(), check().problems().toString());
    assertEquals(0L, media.memory().get(Meta.U64, kset(WRITES - 1) + 8), "the torn header was cleared");
  }

  @Test
  void anImpossibleKeyWithAValidCrcIsRefused() throws Exception {
    long at = kset(2) + Layout.KSET_HEADER_SIZE;
    KeyRecord k = KeyRecord.decode(media.memory(), at);
    new KeyRecord(k.off(), k.len(), k.flags(), 999, k.segOff(), k.segGen(), k.dataCrc()).encode(media.memory(), at);
    Kset.seal(media.memory(), kset(2), 1);
    IOException e = refused();
    assertTrue(e.getMessage().contains("key 0 of the kset at segment 0 offset 128"), e.getMessage());
    assertTrue(e.getMessage().contains("segment 999 is beyond the cache's 31 segments"), e.getMessage());
    assertFalse(check().ok());
  }

  @Test
  void aLoopingLastChainIsRefused() throws Exception {
    MemoryMedia fresh = MemoryMedia.allocate("mem:loop", MEDIA);
    CacheFormat.format(fresh, false, 70);
    Kset.encodeLast(fresh.memory(), Layout.dataOffset(0, 0), 1);
    Kset.encodeLast(fresh.memory(), Layout.dataOffset(1, 0), 0);
    IOException e = assertThrows(IOException.class,
        () -> CacheEngine.open(fresh.reopen(), backing, EngineOptions.defaults(), new TestPolicy(70)).close());
    assertTrue(e.getMessage().contains("it loops"), e.getMessage());
    Inspector.Report r = new Inspector(fresh).inspect(false, null);
    assertTrue(r.problems().stream().anyMatch(p -> p.contains("it loops")), r.problems().toString());
  }

  @Test
  void aZeroedSuperblockMagicIsRefusedAndRepaired() throws Exception {
    media.memory().set(Meta.U64, Layout.SB_OFF + 8, 0L);
    IOException e = refused();
    assertTrue(e.getMessage().contains("looks like a pcache with a damaged superblock"), e.getMessage());
    assertTrue(e.getMessage().contains("cache_info replica"), e.getMessage());
    assertTrue(e.getMessage().contains("pcache check --repair"), e.getMessage());
    assertEquals(0L, media.memory().get(Meta.U64, Layout.SB_OFF + 8), "nothing written");
    List<String> done = CacheRepair.repair(media.reopen());
    assertEquals(1, done.size(), done.toString());
    assertTrue(done.get(0).startsWith("superblock rebuilt"), done.toString());
    allExact();
  }

  @Test
  void aDamagedReplicaIsRebuiltFromItsTwin() throws Exception {
    flip(Layout.CACHE_CTRL_OFF + 2 * Layout.POS_STRUCT_SIZE + 9, 0); // a dirty_tail replica
    flip(Layout.segmentOffset(3) + 9, 1); // segment_info slot 0 (formatted with both slots valid)
    assertFalse(check().warnings().isEmpty());
    List<String> done = CacheRepair.repair(media.reopen());
    assertEquals(2, done.size(), done.toString());
    Inspector.Report r = check();
    assertTrue(r.ok() && r.warnings().isEmpty(), r.toString());
    allExact();
  }

  @Test
  void aFormatThatNeverFinishedIsFormattedAgainButAUsedCacheIsNot() throws Exception {
    MemoryMedia fresh = MemoryMedia.allocate("mem:fresh", MEDIA);
    CacheFormat.format(fresh, true, 70);
    fresh.memory().set(Meta.U64, Layout.SB_OFF + 8, 0L); // the format's last step, lost
    assertEquals(CacheFormat.State.BLANK, CacheFormat.inspect(fresh));
    // Started once: cache_info was rewritten (seq 3), so this is a used cache.
    CacheFormat.format(fresh, true, 70);
    CacheEngine.open(fresh.reopen(), backing, EngineOptions.defaults(), new TestPolicy(70)).close();
    fresh.memory().set(Meta.U64, Layout.SB_OFF + 8, 0L);
    IOException e = assertThrows(IOException.class, () -> CacheFormat.inspect(fresh));
    assertTrue(e.getMessage().contains("cache_info replica"), e.getMessage());
  }

  @Test
  void anExistingCacheKeepsItsDataCrcSettingUnlessOneIsAskedFor() throws Exception {
    MemoryMedia crc = MemoryMedia.allocate("mem:crc", MEDIA);
    CacheFormat.format(crc, true, 70);
    try (CacheEngine e = CacheEngine.open(crc.reopen(), backing, EngineOptions.defaults(), new TestPolicy(70))) {
      assertTrue(e.statusLine().contains(" 1183 "), e.statusLine());
    }
    IOException e = assertThrows(IOException.class, () -> CacheEngine.open(crc.reopen(), backing,
        EngineOptions.defaults().withDataCrc(false), new TestPolicy(70)).close());
    assertTrue(e.getMessage().contains("formatted with data_crc=true"), e.getMessage());
  }
}
