package io.pcache.frontend.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.frontend.nbd.NbdDecoder.ClientFlags;
import io.pcache.frontend.nbd.NbdDecoder.Event;
import io.pcache.frontend.nbd.NbdDecoder.Header;
import io.pcache.frontend.nbd.NbdDecoder.Malformed;
import io.pcache.frontend.nbd.NbdDecoder.Option;
import io.pcache.frontend.nbd.NbdDecoder.OptionTooLarge;
import io.pcache.frontend.nbd.NbdDecoder.Payload;
import io.pcache.frontend.nbd.NbdDecoder.PayloadNeeded;
import io.pcache.frontend.nbd.NbdDecoder.Request;
import io.pcache.testkit.Seeds;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The decoder as a state machine: every frame, every fragmentation, the bad state. */
class NbdDecoderTest {

  private static final int MAX = 64 * 1024;

  /** A whole session: flags, options, GO, then one request of each kind with payloads. */
  static byte[] session(SplittableRandom random) {
    byte[] payload = new byte[8192];
    Seeds.fill(random, payload);
    return new ClientStream()
        .clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)
        .option(Nbd.OPT_STRUCTURED_REPLY, new byte[0])
        .option(Nbd.OPT_LIST, new byte[0])
        .option(Nbd.OPT_INFO, RawClient.goData("pcache", Nbd.INFO_BLOCK_SIZE, Nbd.INFO_NAME))
        .option(Nbd.OPT_GO, RawClient.goData("pcache", Nbd.INFO_BLOCK_SIZE))
        .request(0, Nbd.CMD_READ, 1, 0, 4096)
        .write(Nbd.CMD_FLAG_FUA, 2, 4096, payload)
        .write(0, 3, 512, new byte[0])
        .request(0, Nbd.CMD_FLUSH, 4, 0, 0)
        .request(0, Nbd.CMD_TRIM, 5, 8192, 1 << 20)
        .request(Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_WRITE_ZEROES, 6, 0, 0xFFFFFE00L)
        .request(Nbd.CMD_FLAG_REQ_ONE, Nbd.CMD_BLOCK_STATUS, 7, -512L, 0xFFFFFFFFL)
        .write(0, 8, 0, new byte[512])
        .request(0, Nbd.CMD_DISC, 9, 0, 0)
        .bytes();
  }

  @Test
  void decodesEveryFrameOfASession() {
    SplittableRandom random = new SplittableRandom(1);
    List<String> events = new DecoderDriver(MAX).run(session(random), () -> Integer.MAX_VALUE, false);
    assertEquals(15, events.size(), events::toString);
    assertEquals("ClientFlags[flags=3]", events.get(0));
    assertEquals("OPTION 8 ", events.get(1));
    assertTrue(events.get(4).startsWith("OPTION 7 00000006706361636865"), events.get(4));
    assertEquals("REQUEST NBD_CMD_READ flags 0x0 cookie 0x1 offset 0 length 4096 NONE", events.get(5));
    assertTrue(events.get(6).startsWith("REQUEST NBD_CMD_WRITE flags 0x1 cookie 0x2 offset 4096 length 8192 ATTACHED "),
        events.get(6));
    assertEquals("REQUEST NBD_CMD_WRITE flags 0x0 cookie 0x3 offset 512 length 0 NONE", events.get(7));
    assertEquals("REQUEST NBD_CMD_WRITE_ZEROES flags 0x12 cookie 0x6 offset 0 length 4294966784 NONE", events.get(10));
    assertEquals("REQUEST NBD_CMD_BLOCK_STATUS flags 0x8 cookie 0x7 offset 18446744073709551104 length 4294967295 NONE",
        events.get(11), "offsets and lengths are unsigned");
    assertEquals("REQUEST NBD_CMD_DISC flags 0x0 cookie 0x9 offset 0 length 0 NONE", events.get(13));
    assertEquals("END", events.get(14));
  }

  @Test
  void oneByteAtATimeGivesTheSameEvents() {
    byte[] stream = session(new SplittableRandom(2));
    List<String> whole = new DecoderDriver(MAX).run(stream, () -> Integer.MAX_VALUE, false);
    assertEquals(whole, new DecoderDriver(MAX).run(stream, () -> 1, false));
    assertEquals(whole, new DecoderDriver(MAX).run(stream, () -> 1, true));
  }

  @Test
  void randomSplitsGiveTheSameEvents() {
    SplittableRandom random = Seeds.random("NbdDecoderTest.randomSplitsGiveTheSameEvents");
    for (int round = 0; round < 300; round++) {
      byte[] stream = session(random);
      List<String> whole = new DecoderDriver(MAX).run(stream, () -> Integer.MAX_VALUE, false);
      int bound = 1 + random.nextInt(200);
      assertEquals(whole, new DecoderDriver(MAX).run(stream, () -> 1 + random.nextInt(bound), random.nextBoolean()),
          "round " + round);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 3, 7, 28, 29, 4096})
  void oddFragmentSizes(int size) {
    byte[] stream = session(new SplittableRandom(size));
    assertEquals(new DecoderDriver(MAX).run(stream, () -> Integer.MAX_VALUE, false),
        new DecoderDriver(MAX).run(stream, () -> size, true));
  }

  @Test
  void badOptionMagicIsTerminal() {
    byte[] stream = new ClientStream().clientFlags(1).raw(new byte[16]).option(Nbd.OPT_LIST, new byte[0]).bytes();
    NbdDecoder d = new NbdDecoder(MAX);
    ByteBuffer in = ByteBuffer.wrap(stream);
    assertInstanceOf(ClientFlags.class, d.next(in));
    Event bad = d.next(in);
    Malformed m = assertInstanceOf(Malformed.class, bad);
    assertTrue(m.reason().contains("bad option magic 0x0 at byte 4"), m.reason());
    int pos = in.position();
    assertSame(bad, d.next(in));
    assertEquals(pos, in.position(), "nothing consumed after the bad state");
    assertTrue(d.isBad());
  }

  @Test
  void badRequestMagicAndExtendedHeadersAreMalformed() {
    for (int magic : new int[] {0x12560953, Nbd.EXTENDED_REQUEST_MAGIC, Nbd.SIMPLE_REPLY_MAGIC, 0}) {
      byte[] stream = new ClientStream().clientFlags(1).option(Nbd.OPT_GO, RawClient.goData(""))
          .raw(ByteBuffer.allocate(28).putInt(magic).array()).bytes();
      List<String> events = new DecoderDriver(MAX).run(stream, () -> 5, false);
      assertTrue(events.getLast().startsWith("MALFORMED "), events::toString);
      if (magic == Nbd.EXTENDED_REQUEST_MAGIC) {
        assertTrue(events.getLast().contains("extended headers were not negotiated"), events.getLast());
      }
    }
  }

  @Test
  void oversizedOptionIsSkippedAndTheStreamStaysInStep() {
    byte[] big = new byte[NbdDecoder.MAX_OPTION_DATA + 1];
    byte[] stream = new ClientStream().clientFlags(1).option(99, big).option(Nbd.OPT_LIST, new byte[0]).bytes();
    NbdDecoder d = new NbdDecoder(MAX);
    ByteBuffer in = ByteBuffer.wrap(stream);
    d.next(in);
    assertEquals(new OptionTooLarge(99, big.length), d.next(in));
    Option list = assertInstanceOf(Option.class, d.next(in));
    assertEquals(Nbd.OPT_LIST, list.code());
    assertNull(d.next(in));
  }

  @Test
  void oversizedWritePayloadIsReadAndDropped() {
    byte[] stream = new ClientStream().clientFlags(1).option(Nbd.OPT_GO, RawClient.goData(""))
        .write(0, 1, 0, new byte[MAX + 512]).request(0, Nbd.CMD_FLUSH, 2, 0, 0).bytes();
    List<String> events = new DecoderDriver(MAX).run(stream, () -> 1000, true);
    assertEquals("REQUEST NBD_CMD_WRITE flags 0x0 cookie 0x1 offset 0 length 66048 DISCARDED", events.get(2));
    assertEquals("REQUEST NBD_CMD_FLUSH flags 0x0 cookie 0x2 offset 0 length 0 NONE", events.get(3));
  }

  @Test
  void waitsForAPayloadBufferWithoutConsuming() {
    byte[] stream = new ClientStream().clientFlags(1).option(Nbd.OPT_GO, RawClient.goData(""))
        .write(0, 1, 0, new byte[] {1, 2, 3}).bytes();
    NbdDecoder d = new NbdDecoder(MAX);
    ByteBuffer in = ByteBuffer.wrap(stream);
    d.next(in);
    d.next(in);
    d.enterTransmission();
    PayloadNeeded p = assertInstanceOf(PayloadNeeded.class, d.next(in));
    assertEquals(new Header(0, Nbd.CMD_WRITE, 1, 0, 3), p.header());
    int pos = in.position();
    assertNull(d.next(in));
    assertNull(d.next(in));
    assertEquals(pos, in.position(), "no byte consumed while waiting for the buffer");
    assertTrue(d.midFrame());
    assertThrows(IllegalArgumentException.class, () -> d.attachPayload(ByteBuffer.allocate(4)));
    ByteBuffer target = ByteBuffer.allocate(3);
    d.attachPayload(target);
    assertSame(target, d.directTarget());
    assertEquals(new Request(p.header(), Payload.ATTACHED), d.next(in));
    assertEquals(List.of((byte) 1, (byte) 2, (byte) 3), List.of(target.get(0), target.get(1), target.get(2)));
    assertNull(d.directTarget());
    assertTrue(!d.midFrame());
    assertEquals(stream.length, d.consumed());
  }

  @Test
  void stateChangesAreCheckedAndMidFrameIsReported() {
    NbdDecoder d = new NbdDecoder(MAX);
    assertThrows(IllegalStateException.class, () -> d.attachPayload(ByteBuffer.allocate(1)));
    assertThrows(IllegalStateException.class, d::enterTransmission, "before the client flags");
    ByteBuffer in = ByteBuffer.wrap(new ClientStream().clientFlags(1).bytes());
    d.next(in);
    assertTrue(!d.midFrame());
    ByteBuffer partial = ByteBuffer.wrap(new byte[] {0x49, 0x48});
    assertNull(d.next(partial));
    assertTrue(d.midFrame(), "two bytes of an option header");
    assertThrows(IllegalStateException.class, d::enterTransmission, "in the middle of an option header");
  }

  @Test
  void emptyOptionAndTransmissionFlag() {
    NbdDecoder d = new NbdDecoder(MAX);
    ByteBuffer in = ByteBuffer.wrap(new ClientStream().clientFlags(0).option(Nbd.OPT_ABORT, new byte[0]).bytes());
    assertEquals(new ClientFlags(0), d.next(in));
    Option o = assertInstanceOf(Option.class, d.next(in));
    assertEquals(0, o.data().length);
    assertTrue(!d.inTransmission());
    d.enterTransmission();
    assertTrue(d.inTransmission());
  }
}
