package io.pcache.core.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ControlProtocolTest {

  @Test
  void parsesEveryCommand() {
    assertEquals(new ControlProtocol.Request("status", List.of()), ControlProtocol.parse("status"));
    assertEquals(new ControlProtocol.Request("set", List.of("gc_percent", "50")), ControlProtocol.parse("  set\tgc_percent   50 "));
    assertEquals("writeback pause", ControlProtocol.parse("writeback pause").line());
    assertEquals("drain", ControlProtocol.parse("drain").line());
  }

  @Test
  void refusesBadRequestsNamingThem() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ControlProtocol.parse("stauts"));
    assertTrue(e.getMessage().contains("unknown command 'stauts'; did you mean 'status'?"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ControlProtocol.parse("set gc_percent"));
    assertTrue(e.getMessage().contains("'set' takes 2 arguments, not 1"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ControlProtocol.parse("writeback stop"));
    assertTrue(e.getMessage().contains("pause or resume, not 'stop'"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ControlProtocol.parse("flush now"));
    assertTrue(e.getMessage().contains("'flush' takes no arguments"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ControlProtocol.parse("   "));
  }

  @Test
  void endLinesAreOneLine() {
    assertEquals("invalid a b", ControlProtocol.invalid("a\nb"));
    assertTrue(ControlProtocol.isEnd(ControlProtocol.error("x")));
    assertTrue(ControlProtocol.isEnd(ControlProtocol.OK));
    assertTrue(!ControlProtocol.isEnd(ControlProtocol.data("ok")));
  }

  /** The same text cut into random fragments always gives the same lines. */
  @Test
  void decoderIsIndependentOfFragmentation() {
    String text = "status\r\nset gc_percent 50\n\nshow\nsetz é ünïcode\npartial";
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    List<String> expected = List.of("status", "set gc_percent 50", "", "show", "setz é ünïcode");
    SplittableRandom random = new SplittableRandom(7);
    for (int round = 0; round < 200; round++) {
      LineDecoder d = new LineDecoder(ControlProtocol.MAX_LINE);
      List<String> lines = new ArrayList<>();
      int pos = 0;
      while (pos < bytes.length) {
        int n = Math.min(bytes.length - pos, 1 + random.nextInt(round % 2 == 0 ? 3 : 40));
        lines.addAll(d.feed(ByteBuffer.wrap(bytes, pos, n)));
        pos += n;
      }
      assertEquals(expected, lines);
      assertEquals("partial".length(), d.pending());
    }
  }

  @Test
  void overlongLinePutsTheDecoderInItsBadState() {
    LineDecoder d = new LineDecoder(8);
    assertEquals(List.of("12345678"), d.feed(ByteBuffer.wrap("12345678\r\n".getBytes(StandardCharsets.US_ASCII))));
    assertThrows(IllegalStateException.class, () -> d.feed(ByteBuffer.wrap("123456789".getBytes(StandardCharsets.US_ASCII))));
    assertThrows(IllegalStateException.class, () -> d.feed(ByteBuffer.wrap("ok\n".getBytes(StandardCharsets.US_ASCII))));
  }

  @Test
  void tunableDurationsReadLikeConfiguration() {
    assertEquals("1s", Tunables.duration(java.time.Duration.ofSeconds(1)));
    assertEquals("250ms", Tunables.duration(java.time.Duration.ofMillis(250)));
    assertEquals("0ms", Tunables.duration(java.time.Duration.ZERO));
    assertEquals("1h", Tunables.duration(java.time.Duration.ofHours(1)));
  }
}
