package io.pcache.core.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Every on-media structure byte for byte against dm-pcache's layout and the spec's CRC test
 * vectors (§1.1, 1.4-1.7, 2.2).
 */
class GoldenBytesTest {

  private static final HexFormat HEX = HexFormat.of();

  private static byte[] bytes(MemorySegment seg, int size) {
    return seg.asSlice(0, size).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
  }

  @Test
  void crc32cRawVectors() {
    byte[] digits = "123456789".getBytes(StandardCharsets.US_ASCII);
    assertEquals(0x1CF96D7C, Crc32c.update(0xFFFFFFFF, digits));
    assertEquals(0xE5868AB2, Crc32c.update(0x3B15A, digits));
    assertEquals(0xE3069283, ~Crc32c.update(0xFFFFFFFF, digits));
  }

  @Test
  void crc32cIntrinsicPathAgreesWithTheTablesForEverySeedAndLength() {
    SplittableRandom r = new SplittableRandom(42);
    for (int round = 0; round < 200; round++) {
      byte[] data = new byte[256 + r.nextInt(9000)];
      r.nextBytes(data);
      int seed = r.nextInt();
      MemorySegment seg = MemorySegment.ofArray(data);
      int viaIntrinsic = Crc32c.update(seed, seg, 0, data.length);
      // Tables only: feed in pieces shorter than the intrinsic threshold.
      int viaTables = seed;
      for (int off = 0; off < data.length; off += 200) {
        viaTables = Crc32c.update(viaTables, seg, off, Math.min(200, data.length - off));
      }
      assertEquals(viaTables, viaIntrinsic, "length " + data.length);
    }
  }

  @Test
  void superblock() {
    MemorySegment buf = MemorySegment.ofArray(new byte[24]);
    new Superblock(0, Layout.SB_MAGIC, 31).encode(buf, 0);
    assertEquals(0x047F7742, Superblock.storedCrc(buf, 0));
    assertArrayEquals(HEX.parseHex("42777f04" + "00000000" + "ef96c596fa5eb065" + "1f000000" + "00000000"), bytes(buf, 24));
    assertEquals(new Superblock(0, Layout.SB_MAGIC, 31), Superblock.decode(buf, 0));
    assertTrue(Superblock.crcValid(buf, 0));
    buf.set(Meta.U8, 16, (byte) 30);
    assertFalse(Superblock.crcValid(buf, 0));
  }

  @Test
  void cacheInfo() {
    MemorySegment buf = MemorySegment.ofArray(new byte[24]);
    CacheInfo fresh = CacheInfo.fresh(31, false).withFlag(Layout.CACHE_INFO_F_INIT_DONE, true);
    assertEquals(0x1182, fresh.flags());
    assertEquals(0x1183, CacheInfo.fresh(31, true).withFlag(Layout.CACHE_INFO_F_INIT_DONE, true).flags());
    fresh.withSeq(1).encode(buf, 0);
    assertEquals(0xDDCAFE6D, buf.get(Meta.U32, 0));
    assertArrayEquals(HEX.parseHex("6dfecadd" + "01000000" + "00000000" + "1f000000" + "82110000" + "00000000"), bytes(buf, 24));
    CacheInfo back = CacheInfo.decode(buf, 0);
    assertEquals(70, back.gcPercent());
    assertEquals(0, back.cacheMode());
    assertTrue(back.initDone());
    assertFalse(back.dataCrc());
    assertEquals(10, back.withGcPercent(10).gcPercent());
    assertTrue(back.withGcPercent(10).initDone());
  }

  @Test
  void position() {
    MemorySegment buf = MemorySegment.ofArray(new byte[16]);
    new CachePos(1, 0, 0).encode(buf, 0);
    assertEquals(0x6EF5DFB0, buf.get(Meta.U32, 0));
    assertArrayEquals(HEX.parseHex("b0dff56e" + "01000000" + "00000000" + "00000000"), bytes(buf, 16));
    new CachePos(7, 3, 4096).encode(buf, 0);
    assertEquals(new CachePos(7, 3, 4096), CachePos.decode(buf, 0));
    assertEquals("3:4096", new CachePos(7, 3, 4096).toString());
  }

  @Test
  void segmentGenerationAndInfo() {
    MemorySegment buf = MemorySegment.ofArray(new byte[16]);
    new SegGen(1, 0x1122334455667788L).encode(buf, 0);
    assertArrayEquals(HEX.parseHex("01000000" + "8877665544332211"), java.util.Arrays.copyOfRange(bytes(buf, 16), 4, 16));
    assertEquals(new SegGen(1, 0x1122334455667788L), SegGen.decode(buf, 0));
    assertEquals(Meta.crc(buf, 0, 16), buf.get(Meta.U32, 0));
    new SegmentInfo(2, 0x3, 5).encode(buf, 0);
    assertArrayEquals(HEX.parseHex("02000000" + "03000000" + "05000000"), java.util.Arrays.copyOfRange(bytes(buf, 16), 4, 16));
    SegmentInfo info = SegmentInfo.decode(buf, 0);
    assertTrue(info.hasNext());
    assertEquals(Layout.SEG_TYPE_CACHE_DATA, info.type());
  }

  @Test
  void ksetWithOneKey() {
    MemorySegment buf = MemorySegment.ofArray(new byte[64]);
    int size = Kset.encode(buf, 0, List.of(new KeyRecord(0, 4096, 0, 1, 0, 0, 0)));
    assertEquals(64, size);
    assertEquals(0xD4D6C614, buf.get(Meta.U32, 0));
    assertArrayEquals(HEX.parseHex("14c6d6d4" + "01000000" + "1a4f164ea6946867" + "0000000000000000"
        + "0000000000000000" + "00100000" + "00000000" + "01000000" + "00000000" + "0000000000000000"
        + "00000000" + "00000000"), bytes(buf, 64));
    assertEquals(Kset.Check.VALID, Kset.check(buf, 0, 64));
    assertEquals(Kset.Check.TRUNCATED, Kset.check(buf, 0, 63));
    Kset k = Kset.decode(buf, 0);
    assertEquals(List.of(new KeyRecord(0, 4096, 0, 1, 0, 0, 0)), k.keys());
    assertFalse(k.last());
  }

  @Test
  void lastKset() {
    MemorySegment buf = MemorySegment.ofArray(new byte[24]);
    Kset.encodeLast(buf, 0, 5);
    assertEquals(0x5917C2A5, buf.get(Meta.U32, 0));
    assertEquals(Kset.Check.VALID, Kset.check(buf, 0, 24));
    Kset k = Kset.decode(buf, 0);
    assertTrue(k.last());
    assertEquals(5, k.nextSegId());
  }

  @Test
  void ksetChecksRejectGarbageBeforeTheCrc() {
    MemorySegment buf = MemorySegment.ofArray(new byte[Layout.KSET_SIZE_MAX + 64]);
    assertEquals(Kset.Check.NO_MAGIC, Kset.check(buf, 0, buf.byteSize()));
    Kset.encode(buf, 0, List.of(new KeyRecord(4096, 512, 2, 3, 512, 9, 0)));
    buf.set(Meta.U32, 4, 129);
    assertEquals(Kset.Check.BAD_KEY_COUNT, Kset.check(buf, 0, buf.byteSize()));
    buf.set(Meta.U32, 4, 1);
    buf.set(Meta.U8, 30, (byte) 1);
    assertEquals(Kset.Check.BAD_CRC, Kset.check(buf, 0, buf.byteSize()));
  }

  @Test
  void sequenceNumbersWrap() {
    assertTrue(Meta.seqAfter(1, 0));
    assertTrue(Meta.seqAfter(0, 255));
    assertFalse(Meta.seqAfter(255, 0));
    assertFalse(Meta.seqAfter(5, 5));
  }

  @Test
  void layoutNumbers() {
    assertEquals(16_764_928, Layout.SEG_DATA_SIZE);
    assertEquals(5144, Layout.KSET_SIZE_MAX);
    assertEquals(31, Layout.segmentsFor(512L << 20));
    assertEquals(20480 + 12288 + 100, Layout.dataOffset(0, 100));
  }
}
