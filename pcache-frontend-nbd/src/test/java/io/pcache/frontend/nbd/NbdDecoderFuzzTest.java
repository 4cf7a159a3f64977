package io.pcache.frontend.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.testkit.Seeds;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Fuzzes the decoder with seeded random sessions, mutated sessions and noise. Invariants: it never
 * throws, always makes progress, stops for good at bad input, bounds what it allocates, and gives
 * the same events however the input is fragmented. Reproduce with {@code -Dpcache.test.seed=N}.
 */
class NbdDecoderFuzzTest {

  private static final int MAX_PAYLOAD = 16 * 1024;

  /** A random but valid session, and the events it must decode to. */
  private record Generated(byte[] stream, List<String> expected) {}

  private static Generated generate(SplittableRandom r) {
    ClientStream s = new ClientStream();
    List<String> expected = new ArrayList<>();
    int flags = r.nextInt(4);
    s.clientFlags(flags);
    expected.add("ClientFlags[flags=" + flags + "]");
    int options = r.nextInt(5);
    for (int i = 0; i < options; i++) {
      int code = 1 + r.nextInt(12);
      if (code == Nbd.OPT_GO || code == Nbd.OPT_EXPORT_NAME) {
        code = Nbd.OPT_INFO;
      }
      byte[] data = new byte[r.nextInt(4) == 0 ? r.nextInt(300) : r.nextInt(10)];
      Seeds.fill(r, data);
      s.option(code, data);
      expected.add("OPTION " + code + " " + HexFormat.of().formatHex(data));
    }
    byte[] go = RawClient.goData("x".repeat(r.nextInt(20)), Nbd.INFO_BLOCK_SIZE);
    s.option(Nbd.OPT_GO, go);
    expected.add("OPTION 7 " + HexFormat.of().formatHex(go));
    int requests = r.nextInt(40);
    for (int i = 0; i < requests; i++) {
      int type = r.nextInt(10);
      int f = r.nextInt(1 << 16);
      long cookie = r.nextLong();
      long offset = r.nextLong();
      NbdDecoder.Header h;
      String tail;
      if (type == Nbd.CMD_WRITE) {
        int length = r.nextInt(8) == 0 ? MAX_PAYLOAD + 1 + r.nextInt(1000) : r.nextInt(3000);
        byte[] data = new byte[length];
        Seeds.fill(r, data);
        s.write(f, cookie, offset, data);
        h = new NbdDecoder.Header(f, type, cookie, offset, length);
        tail = length == 0 ? " NONE"
            : length > MAX_PAYLOAD ? " DISCARDED" : " ATTACHED " + HexFormat.of().formatHex(data);
      } else {
        long length = r.nextLong() >>> 32;
        s.request(f, type, cookie, offset, length);
        h = new NbdDecoder.Header(f, type, cookie, offset, length);
        tail = " NONE";
      }
      expected.add("REQUEST " + h + tail);
    }
    expected.add("END");
    return new Generated(s.bytes(), expected);
  }

  @Test
  void randomValidSessionsDecodeExactlyUnderAnyFragmentation() {
    SplittableRandom r = Seeds.random("NbdDecoderFuzzTest.randomValidSessions");
    for (int round = 0; round < 500; round++) {
      Generated g = generate(r);
      int bound = 1 + r.nextInt(r.nextBoolean() ? 8 : 5000);
      DecoderDriver driver = new DecoderDriver(MAX_PAYLOAD);
      List<String> got = driver.run(g.stream(), () -> 1 + r.nextInt(bound), r.nextBoolean());
      assertEquals(g.expected(), got, "round " + round);
      assertTrue(driver.largestAllocation <= MAX_PAYLOAD);
    }
  }

  @Test
  void mutatedSessionsNeverBreakTheDecoder() {
    SplittableRandom r = Seeds.random("NbdDecoderFuzzTest.mutatedSessions");
    int malformed = 0;
    for (int round = 0; round < 2000; round++) {
      byte[] stream = mutate(generate(r).stream(), r);
      DecoderDriver whole = new DecoderDriver(MAX_PAYLOAD);
      List<String> reference = whole.run(stream, () -> Integer.MAX_VALUE, false);
      int bound = 1 + r.nextInt(64);
      DecoderDriver split = new DecoderDriver(MAX_PAYLOAD);
      List<String> fragmented = split.run(stream, () -> 1 + r.nextInt(bound), r.nextBoolean());
      assertEquals(reference, fragmented, "round " + round);
      assertTrue(whole.largestAllocation <= Math.max(MAX_PAYLOAD, NbdDecoder.MAX_OPTION_DATA),
          "allocated " + whole.largestAllocation);
      if (reference.getLast().startsWith("MALFORMED")) {
        malformed++;
      }
    }
    assertTrue(malformed > 100, "mutations should hit the bad state often, got " + malformed);
  }

  @Test
  void noiseIsRejectedOrSkippedButNeverThrows() {
    SplittableRandom r = Seeds.random("NbdDecoderFuzzTest.noise");
    for (int round = 0; round < 1000; round++) {
      byte[] noise = new byte[r.nextInt(2000)];
      Seeds.fill(r, noise);
      if (r.nextBoolean() && noise.length >= 12) {
        // make a plausible option header so that the decoder goes deeper than the first magic
        java.nio.ByteBuffer.wrap(noise).putInt(0).putLong(Nbd.IHAVEOPT);
      }
      List<String> reference = new DecoderDriver(MAX_PAYLOAD).run(noise, () -> Integer.MAX_VALUE, false);
      assertEquals(reference, new DecoderDriver(MAX_PAYLOAD).run(noise, () -> 1 + r.nextInt(7), true),
          "round " + round);
    }
  }

  private static byte[] mutate(byte[] stream, SplittableRandom r) {
    byte[] s = stream.clone();
    int kind = r.nextInt(5);
    switch (kind) {
      case 0 -> { // flip bytes
        for (int i = 0, n = 1 + r.nextInt(4); i < n; i++) {
          s[r.nextInt(s.length)] ^= (byte) (1 + r.nextInt(255));
        }
        return s;
      }
      case 1 -> { // truncate
        return java.util.Arrays.copyOf(s, r.nextInt(s.length));
      }
      case 2 -> { // delete a range
        int from = r.nextInt(s.length);
        int to = Math.min(s.length, from + 1 + r.nextInt(40));
        byte[] out = new byte[s.length - (to - from)];
        System.arraycopy(s, 0, out, 0, from);
        System.arraycopy(s, to, out, from, s.length - to);
        return out;
      }
      case 3 -> { // insert noise
        int at = r.nextInt(s.length + 1);
        byte[] ins = new byte[1 + r.nextInt(40)];
        Seeds.fill(r, ins);
        byte[] out = new byte[s.length + ins.length];
        System.arraycopy(s, 0, out, 0, at);
        System.arraycopy(ins, 0, out, at, ins.length);
        System.arraycopy(s, at, out, at + ins.length, s.length - at);
        return out;
      }
      default -> { // a huge length field somewhere
        if (s.length >= 4) {
          int at = r.nextInt(s.length - 3);
          java.nio.ByteBuffer.wrap(s).putInt(at, -1 - r.nextInt(100));
        }
        return s;
      }
    }
  }
}
