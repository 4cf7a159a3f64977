package io.pcache.frontend.nbd;

import io.pcache.testkit.MapConfig;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.frontend.nbd.RawClient.Negotiated;
import io.pcache.frontend.nbd.RawClient.Reply;
import io.pcache.testkit.Seeds;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** STARTTLS with JSSE on both sides, in the optional and required modes. */
@Timeout(60)
class TlsTest {

  private static Path keystore;
  private static SSLContext client;

  @TempDir
  Path dir;

  @BeforeAll
  static void makeKeys() throws Exception {
    keystore = Keys.shared();
    client = Keys.trustingClient();
  }

  private TestServer server(MemoryDevice d, String mode) throws IOException {
    return TestServer.start(d, dir, Map.of(NbdSettings.TLS, mode, NbdSettings.TLS_KEYSTORE, keystore.toString(),
        NbdSettings.TLS_PASSWORD, Keys.PASSWORD));
  }

  /** Reads and writes a megabyte each way (many TLS records) and checks it. */
  private static void transfer(RawClient c) throws IOException {
    SplittableRandom r = Seeds.random("TlsTest.transfer");
    byte[] data = new byte[1 << 20];
    Seeds.fill(r, data);
    c.write(Nbd.CMD_FLAG_FUA, 1, 4096, data);
    assertEquals(0, c.next().errorCode());
    c.request(0, Nbd.CMD_READ, 2, 4096, data.length);
    Reply read = c.next();
    assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, read.type());
    assertArrayEquals(data, java.util.Arrays.copyOfRange(read.data(), 8, read.data().length));
    c.request(0, Nbd.CMD_BLOCK_STATUS, 3, 0, 4096);
    assertEquals(Nbd.REPLY_TYPE_BLOCK_STATUS, c.next().type());
    c.request(0, Nbd.CMD_DISC, 4, 0, 0);
    assertTrue(c.closedByServer());
  }

  @Test
  void optionalModeUpgradesOnRequest() throws Exception {
    try (MemoryDevice d = new MemoryDevice("mem", 4 << 20); TestServer s = server(d, "optional");
        RawClient c = RawClient.tcp(s.port)) {
      assertTrue(s.uri().startsWith("nbd://"), "optional TLS keeps the nbd:// scheme: " + s.uri());
      c.hello();
      assertEquals(Nbd.REP_ACK, c.ask(Nbd.OPT_STRUCTURED_REPLY, new byte[0]).getFirst().type());
      assertEquals(Nbd.REP_ACK, c.ask(Nbd.OPT_STARTTLS, new byte[0]).getFirst().type());
      c.startTls(client);
      assertEquals(Nbd.REP_ERR_INVALID, c.ask(Nbd.OPT_STARTTLS, new byte[0]).getFirst().type(), "already TLS");
      Negotiated n = c.negotiate("pcache", true, true);
      assertTrue(n.metaContextId() >= 0);
      transfer(c);
    }
  }

  @Test
  void optionalModeServesPlainTextToo() throws Exception {
    try (MemoryDevice d = new MemoryDevice("mem", 4 << 20); TestServer s = server(d, "optional");
        RawClient c = RawClient.tcp(s.port)) {
      c.handshake("pcache", true, true);
      transfer(c);
    }
  }

  @Test
  void requiredModeRefusesEverythingBeforeTls() throws Exception {
    try (MemoryDevice d = new MemoryDevice("mem", 4 << 20); TestServer s = server(d, "required")) {
      assertTrue(s.uri().startsWith("nbds://") && s.unixUri().startsWith("nbds+unix://"), s.endpoints().toString());
      try (RawClient c = RawClient.tcp(s.port)) {
        c.hello();
        for (int code : new int[] {Nbd.OPT_LIST, Nbd.OPT_STRUCTURED_REPLY, 77}) {
          assertEquals(Nbd.REP_ERR_TLS_REQD, c.ask(code, new byte[0]).getFirst().type());
        }
        assertEquals(Nbd.REP_ERR_TLS_REQD, c.ask(Nbd.OPT_GO, RawClient.goData("pcache")).getFirst().type());
        assertEquals(Nbd.REP_ACK, c.ask(Nbd.OPT_STARTTLS, new byte[0]).getFirst().type());
        c.startTls(client);
        c.negotiate("pcache", true, true);
        transfer(c);
      }
      try (RawClient old = RawClient.tcp(s.port)) {
        old.hello();
        old.option(Nbd.OPT_EXPORT_NAME, "pcache".getBytes(StandardCharsets.UTF_8));
        assertTrue(old.closedByServer(), "EXPORT_NAME without TLS cannot be refused politely");
      }
      try (RawClient abort = RawClient.tcp(s.port)) {
        abort.hello();
        assertEquals(Nbd.REP_ACK, abort.ask(Nbd.OPT_ABORT, new byte[0]).getFirst().type());
      }
    }
  }

  @Test
  void failedTlsHandshakeClosesOnlyThatConnection() throws Exception {
    try (MemoryDevice d = new MemoryDevice("mem", 4 << 20); TestServer s = server(d, "required")) {
      try (RawClient c = RawClient.tcp(s.port)) {
        c.hello();
        assertEquals(Nbd.REP_ACK, c.ask(Nbd.OPT_STARTTLS, new byte[0]).getFirst().type());
        c.out().write("this is not a TLS ClientHello".getBytes(StandardCharsets.UTF_8));
        c.out().flush();
        assertTrue(c.closedByServer());
      }
      try (RawClient c = RawClient.tcp(s.port)) {
        c.hello();
        c.ask(Nbd.OPT_STARTTLS, new byte[0]);
        c.startTls(client);
        c.negotiate("", false, false);
      }
    }
  }

  @Test
  void keystoreProblemsAreReportedClearly() {
    NbdFrontendProvider p = new NbdFrontendProvider();
    try (MemoryDevice d = new MemoryDevice("mem", 4096)) {
      IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> p.create(d,
          new MapConfig(p.configKeys(), Map.of(NbdSettings.TLS, "required"))));
      assertTrue(none.getMessage().contains("nbd.tls.keystore"), none.getMessage());
      IOException wrong = assertThrows(IOException.class, () -> p.create(d, new MapConfig(p.configKeys(),
          Map.of(NbdSettings.TLS, "optional", NbdSettings.TLS_KEYSTORE, keystore.toString(),
              NbdSettings.TLS_PASSWORD, "wrong"))));
      assertTrue(wrong.getMessage().contains(keystore.toString()) && wrong.getMessage().contains("nbd.tls.password"),
          wrong.getMessage());
      IOException missing = assertThrows(IOException.class, () -> p.create(d, new MapConfig(p.configKeys(),
          Map.of(NbdSettings.TLS, "optional", NbdSettings.TLS_KEYSTORE, "/nonexistent/k.p12"))));
      assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
    }
  }
}
