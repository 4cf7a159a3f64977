package io.pcache.frontend.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** Golden bytes for every frame the server sends. */
class NbdEncoderTest {

  private static String hex(ByteBuffer b) {
    byte[] a = new byte[b.remaining()];
    b.duplicate().get(a);
    return HexFormat.of().formatHex(a);
  }

  private static String hex(byte[] a) {
    return HexFormat.of().formatHex(a);
  }

  @Test
  void greeting() {
    assertEquals("4e42444d41474943" + "49484156454f5054" + "0003", hex(NbdEncoder.greeting()));
  }

  @Test
  void optionReplies() {
    ByteBuffer b = new NbdEncoder.OptionReplies().ack(Nbd.OPT_GO)
        .error(Nbd.OPT_LIST, Nbd.REP_ERR_INVALID, "no").toBuffer();
    assertEquals("0003e889045565a9" + "00000007" + "00000001" + "00000000"
        + "0003e889045565a9" + "00000003" + "80000003" + "00000002" + "6e6f", hex(b));
  }

  @Test
  void optionRepliesGrow() {
    NbdEncoder.OptionReplies r = new NbdEncoder.OptionReplies();
    for (int i = 0; i < 100; i++) {
      r.reply(Nbd.OPT_LIST, Nbd.REP_SERVER, NbdEncoder.server("export-" + i, "a description"));
    }
    assertEquals(100 * (20 + 4 + 9 + 13) - 10, r.toBuffer().remaining(), "ten names of 8 bytes, ninety of 9");
  }

  @Test
  void infoItems() {
    assertEquals("0000" + "0000000040000000" + "0ded", hex(NbdEncoder.infoExport(1L << 30, 0x0ded)));
    assertEquals("0001" + "706361636865", hex(NbdEncoder.infoName("pcache")));
    assertEquals("0002" + "6361636865", hex(NbdEncoder.infoDescription("cache")));
    assertEquals("0003" + "00000200" + "00001000" + "02000000", hex(NbdEncoder.infoBlockSize(512, 4096, 32 << 20)));
    assertEquals("00000006" + "706361636865" + "64", hex(NbdEncoder.server("pcache", "d")));
    assertEquals("00000001" + "626173653a616c6c6f636174696f6e", hex(NbdEncoder.metaContext(1, "base:allocation")));
  }

  @Test
  void exportNameReplyWithAndWithoutZeroes() {
    ByteBuffer with = NbdEncoder.exportNameReply(4096, 0x0d6d, false);
    assertEquals(134, with.remaining());
    assertEquals("0000000000001000" + "0d6d" + "00".repeat(124), hex(with));
    assertEquals("0000000000001000" + "0d6d", hex(NbdEncoder.exportNameReply(4096, 0x0d6d, true)));
  }

  @Test
  void transmissionReplies() {
    assertEquals("67446698" + "00000016" + "0102030405060708", hex(NbdEncoder.simpleReply(22, 0x0102030405060708L)));
    assertEquals("668e33ef" + "0001" + "0000" + "00000000000000ff" + "00000000", hex(NbdEncoder.noneChunk(0xff)));
    assertEquals("668e33ef" + "0001" + "8001" + "00000000000000ff" + "0000000a" + "00000005" + "0004" + "626f6f6d",
        hex(NbdEncoder.errorChunk(0xff, 5, "boom")));
    assertEquals("668e33ef" + "0001" + "0005" + "00000000000000ff" + "0000000c" + "00000001" + "00001000" + "00000000",
        hex(NbdEncoder.blockStatusChunk(0xff, 1, 4096, 0)));
    ByteBuffer b = ByteBuffer.allocate(40);
    NbdEncoder.chunkHeader(b, 4, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_DATA, -1L, 8 + 512);
    assertEquals("00000000" + "668e33ef" + "0001" + "0001" + "ffffffffffffffff" + "00000208", hex(b.limit(24)));
    assertEquals(0, b.position(), "absolute puts leave the position alone");
  }

  @Test
  void stringsAreCutAtACharacterBoundaryAndHaveNoNul() {
    assertEquals(4096, NbdEncoder.utf8("é".repeat(3000), 4096).length);
    byte[] euro = NbdEncoder.utf8("€".repeat(2000), 4096);
    assertEquals(4095, euro.length, "1365 whole three-byte characters");
    assertEquals("€".repeat(1365), new String(euro, StandardCharsets.UTF_8));
    assertArrayEquals("a?b".getBytes(StandardCharsets.UTF_8), NbdEncoder.utf8("a\0b", 10));
    ByteBuffer chunk = NbdEncoder.errorChunk(1, 5, "x".repeat(10_000));
    assertEquals(20 + 6 + 4096, chunk.remaining(), "error messages are at most 4096 bytes");
  }
}
