package io.pcache.frontend.nbd;

import io.pcache.testkit.MapConfig;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.frontend.nbd.RawClient.Negotiated;
import io.pcache.frontend.nbd.RawClient.OptReply;
import io.pcache.frontend.nbd.RawClient.Reply;
import io.pcache.testkit.Seeds;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Protocol corners over real sockets against a running server: every byte hand-made. */
@Timeout(60)
class ProtocolCornerTest {

  private static final long SIZE = 64L << 20;

  @TempDir
  Path dir;

  private MemoryDevice device;
  private TestServer server;

  @BeforeEach
  void start() throws IOException {
    device = new MemoryDevice("mem", SIZE);
    server = TestServer.start(device, dir, Map.of(NbdSettings.MAX_PAYLOAD, "1M"));
  }

  @AfterEach
  void stop() throws IOException {
    server.close();
    device.close();
  }

  private static byte[] random(SplittableRandom r, int n) {
    byte[] b = new byte[n];
    Seeds.fill(r, b);
    return b;
  }

  private void session(RawClient c) throws IOException {
    SplittableRandom r = new SplittableRandom(7);
    Negotiated n = c.handshake("pcache", true, true);
    assertEquals(SIZE, n.size());
    assertEquals(NegotiationTest.FULL_SR, n.flags());
    assertEquals(List.of(512, 4096, 1 << 20), List.of(n.minBlock(), n.prefBlock(), n.maxBlock()));
    byte[] data = random(r, 12288);
    c.write(Nbd.CMD_FLAG_FUA, 1, 4096, data);
    Reply w = c.next();
    assertEquals(1, w.cookie());
    assertEquals(0, w.errorCode());
    c.request(Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 2, 4096, data.length);
    Reply read = c.next();
    assertEquals(Nbd.REPLY_TYPE_OFFSET_DATA, read.type());
    assertTrue(read.done());
    assertEquals(4096, ByteBuffer.wrap(read.data()).getLong(0));
    assertArrayEquals(data, java.util.Arrays.copyOfRange(read.data(), 8, read.data().length));
    for (int[] cmd : new int[][] {{Nbd.CMD_FLUSH, 0, 0}, {Nbd.CMD_TRIM, 4096, 4096}, {Nbd.CMD_WRITE_ZEROES, 8192, 4096},
        {Nbd.CMD_CACHE, 0, 65536}}) {
      c.request(0, cmd[0], 10 + cmd[0], cmd[1], cmd[2]);
      Reply rep = c.next();
      assertEquals(0, rep.errorCode(), Nbd.commandName(cmd[0]));
      assertEquals(10 + cmd[0], rep.cookie());
    }
    c.request(0, Nbd.CMD_BLOCK_STATUS, 3, 0, 65536);
    Reply bs = c.next();
    assertEquals(Nbd.REPLY_TYPE_BLOCK_STATUS, bs.type());
    ByteBuffer b = ByteBuffer.wrap(bs.data());
    assertEquals(n.metaContextId(), b.getInt(0));
    assertEquals(65536, b.getInt(4));
    assertEquals(0, b.getInt(8));
    c.request(0, Nbd.CMD_READ, 4, 4096, 12288);
    byte[] after = c.next().data();
    for (int i = 8; i < 8 + 8192; i++) {
      assertEquals(0, after[i], "trimmed and zeroed ranges read as zeroes");
    }
    c.request(0, Nbd.CMD_DISC, 5, 0, 0);
    assertTrue(c.closedByServer(), "NBD_CMD_DISC closes the connection");
  }

  @Test
  void fullSessionOverTcp() throws IOException {
    try (RawClient c = RawClient.tcp(server.port)) {
      session(c);
    }
    assertEquals(1, device.fuaWrites.get());
    assertEquals(1, device.flushes.get());
    assertEquals(1, device.prefetches.get());
  }

  @Test
  void fullSessionOverUnixSocket() throws IOException {
    try (RawClient c = RawClient.unix(server.socket)) {
      session(c);
    }
  }

  @Test
  void exportNameForOldClientsWithAndWithoutZeroes() throws IOException {
    for (int flags : new int[] {0, Nbd.FLAG_C_FIXED_NEWSTYLE, Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES}) {
      try (RawClient c = RawClient.tcp(server.port)) {
        c.greeting();
        c.clientFlags(flags);
        c.option(Nbd.OPT_EXPORT_NAME, "pcache".getBytes(StandardCharsets.UTF_8));
        assertEquals(SIZE, c.in().readLong());
        assertEquals(NegotiationTest.FULL_SR & ~Nbd.FLAG_SEND_DF, c.in().readUnsignedShort());
        if ((flags & Nbd.FLAG_C_NO_ZEROES) == 0) {
          byte[] zeroes = new byte[124];
          c.in().readFully(zeroes);
          assertArrayEquals(new byte[124], zeroes);
        }
        c.request(0, Nbd.CMD_READ, 9, 0, 512);
        Reply r = c.simple(512);
        assertEquals(0, r.error());
        assertEquals(9, r.cookie());
      }
    }
  }

  @Test
  void unknownClientFlagsCloseTheConnection() throws IOException {
    try (RawClient c = RawClient.tcp(server.port)) {
      c.greeting();
      c.clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | 0x100);
      assertTrue(c.closedByServer());
    }
  }

  @Test
  void unknownOptionsAndAbort() throws IOException {
    try (RawClient c = RawClient.tcp(server.port)) {
      c.hello();
      List<OptReply> r = c.ask(4242, "whatever".getBytes(StandardCharsets.UTF_8));
      assertEquals(Nbd.REP_ERR_UNSUP, r.getFirst().type());
      assertEquals(4242, r.getFirst().option());
      assertEquals(Nbd.REP_ERR_POLICY, c.ask(Nbd.OPT_STARTTLS, new byte[0]).getFirst().type(), "TLS is off");
      assertEquals(Nbd.REP_ERR_TOO_BIG, c.ask(Nbd.OPT_INFO, new byte[NbdDecoder.MAX_OPTION_DATA + 10]).getFirst()
          .type(), "oversized option data is skipped");
      List<OptReply> list = c.ask(Nbd.OPT_LIST, new byte[0]);
      assertEquals(Nbd.REP_SERVER, list.getFirst().type());
      assertEquals(Nbd.REP_ACK, c.ask(Nbd.OPT_ABORT, new byte[0]).getFirst().type());
      assertTrue(c.closedByServer());
    }
  }

  @Test
  void repliesComeOutOfOrder() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    device.hook((op, offset, length) -> {
      if (op.equals("read") && offset == 0) {
        try {
          release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    });
    try (RawClient c = RawClient.tcp(server.port)) {
      c.handshake("pcache", false, false);
      c.request(0, Nbd.CMD_READ, 1, 0, 512);
      c.request(0, Nbd.CMD_READ, 2, 4096, 512);
      Reply first = c.simple(512);
      assertEquals(2, first.cookie(), "the second request overtakes the held first one");
      release.countDown();
      assertEquals(1, c.simple(512).cookie());
    }
  }

  @Test
  void quickRequestsRunOnTheReaderAndOvertakeASlowOne() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    device.hook(new MemoryDevice.Hook() {
      @Override
      public void before(String op, long offset, long length) {
        if (op.equals("read") && offset == 0) {
          try {
            release.await(10, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      }

      @Override
      public boolean quick(String op, long offset, long length) {
        return !(op.equals("read") && offset == 0);
      }
    });
    byte[] data = random(new SplittableRandom(3), 512);
    try (RawClient c = RawClient.tcp(server.port)) {
      c.handshake("pcache", false, false);
      c.request(0, Nbd.CMD_READ, 1, 0, 512); // held on a worker
      c.write(0, 2, 4096, data);
      c.request(0, Nbd.CMD_READ, 3, 4096, 512);
      c.request(0, Nbd.CMD_FLUSH, 4, 0, 0);
      assertEquals(2, c.simple(0).cookie());
      Reply read = c.simple(512);
      assertEquals(3, read.cookie());
      assertArrayEquals(data, read.data(), "the quick read sees the quick write before it");
      assertEquals(4, c.simple(0).cookie());
      assertEquals(3, device.quick.get(), "write, read and flush ran on the reader");
      release.countDown();
      assertEquals(1, c.simple(512).cookie());
    }
  }

  @Test
  void repliesHeldByTheReaderDoNotStallBackPressure() throws Exception {
    java.nio.file.Files.createDirectories(dir.resolve("one"));
    try (TestServer one = TestServer.start(device, dir.resolve("one"), Map.of(NbdSettings.MAX_REQUESTS, "2"));
        RawClient c = RawClient.tcp(one.port)) {
      c.handshake("pcache", false, false);
      int n = 200;
      for (int i = 0; i < n; i++) {
        c.header(0, Nbd.CMD_READ, i, (long) i * 512, 512);
      }
      c.out().flush(); // every request before reading any reply: the server must send as it goes
      for (int i = 0; i < n; i++) {
        assertEquals(i, c.simple(512).cookie(), "one reader, quick reads: in order");
      }
      assertEquals(n, device.quick.get());
    }
  }

  @Test
  void hundredsOfPipelinedRequests() throws IOException {
    SplittableRandom r = Seeds.random("ProtocolCornerTest.hundredsOfPipelinedRequests");
    try (RawClient c = RawClient.tcp(server.port)) {
      c.handshake("pcache", true, false);
      int n = 600;
      byte[][] blocks = new byte[n][];
      for (int i = 0; i < n; i++) {
        blocks[i] = random(r, 512 * (1 + r.nextInt(8)));
        c.header(0, Nbd.CMD_WRITE, i, (long) i * 4096, blocks[i].length);
        c.out().write(blocks[i]);
      }
      c.out().flush();
      Set<Long> seen = new HashSet<>();
      for (int i = 0; i < n; i++) {
        Reply rep = c.next();
        assertEquals(0, rep.errorCode());
        assertTrue(seen.add(rep.cookie()), "one reply per cookie");
      }
      for (int i = 0; i < n; i++) {
        c.request(0, Nbd.CMD_READ, 10_000 + i, (long) i * 4096, blocks[i].length);
      }
      for (int i = 0; i < n; i++) {
        Reply rep = c.next();
        int k = (int) (rep.cookie() - 10_000);
        assertArrayEquals(blocks[k], java.util.Arrays.copyOfRange(rep.data(), 8, rep.data().length), "block " + k);
      }
    }
  }

  @Test
  void oversizedWritePayloadIsConsumedAndRefused() throws IOException {
    try (RawClient c = RawClient.tcp(server.port)) {
      c.handshake("pcache", false, false);
      c.write(0, 1, 0, new byte[(1 << 20) + 512]);
      assertEquals(Nbd.EINVAL, c.simple(0).error());
      c.request(0, Nbd.CMD_READ, 2, 0, (1 << 20) + 512);
      assertEquals(Nbd.EINVAL, c.simple(0).error(), "oversized read");
      c.write(0, 3, 0, new byte[512]);
      Reply ok = c.simple(0);
      assertEquals(3, ok.cookie(), "the stream stayed in step");
      assertEquals(0, ok.error());
    }
  }

  @Test
  void rangeAndAlignmentErrorsOverTheWire() throws IOException {
    try (RawClient c = RawClient.tcp(server.port)) {
      c.handshake("pcache", false, false);
      c.write(0, 1, SIZE - 512, new byte[1024]);
      assertEquals(Nbd.ENOSPC, c.simple(0).error());
      c.request(0, Nbd.CMD_READ, 2, SIZE, 512);
      assertEquals(Nbd.EINVAL, c.simple(0).error());
      c.write(0, 3, 100, new byte[512]);
      assertEquals(Nbd.EINVAL, c.simple(0).error());
      c.request(0, Nbd.CMD_BLOCK_STATUS, 4, 0, 512);
      assertEquals(Nbd.EINVAL, c.simple(0).error(), "no context selected");
      c.request(0, 200, 5, 0, 0);
      assertEquals(Nbd.EINVAL, c.simple(0).error(), "unknown command");
    }
  }

  @Test
  void structuredErrorsCarryAMessage() throws IOException {
    try (RawClient c = RawClient.tcp(server.port)) {
      c.handshake("pcache", true, false);
      c.request(0, Nbd.CMD_READ, 1, SIZE - 512, 1024);
      Reply r = c.next();
      assertEquals(Nbd.REPLY_TYPE_ERROR, r.type());
      assertTrue(r.done());
      assertEquals(Nbd.EINVAL, r.errorCode());
      assertTrue(r.errorMessage().contains("beyond the end"), r.errorMessage());
    }
  }

  @Test
  void badMagicClosesOnlyThatConnection() throws IOException {
    try (RawClient good = RawClient.tcp(server.port); RawClient bad = RawClient.unix(server.socket)) {
      good.handshake("pcache", false, false);
      bad.handshake("pcache", false, false);
      bad.out().writeInt(0xdeadbeef);
      bad.out().write(new byte[24]);
      bad.out().flush();
      assertTrue(bad.closedByServer());
      good.request(0, Nbd.CMD_READ, 1, 0, 512);
      assertEquals(0, good.simple(512).error(), "the other connection is untouched");
    }
  }

  @Test
  void clientVanishingMidRequestLeaksNothing() throws Exception {
    try (RawClient c = RawClient.tcp(server.port)) {
      c.handshake("pcache", false, false);
      c.header(0, Nbd.CMD_WRITE, 1, 0, 65536);
      c.out().write(new byte[1000]);
      c.out().flush();
    }
    CountDownLatch hold = new CountDownLatch(1);
    device.hook((op, offset, length) -> {
      try {
        hold.await(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    try (RawClient c = RawClient.unix(server.socket)) {
      c.handshake("pcache", true, false);
      for (int i = 0; i < 20; i++) {
        c.request(0, Nbd.CMD_READ, i, 0, 65536);
      }
      c.out().flush();
    }
    hold.countDown();
    waitForNoConnections();
    assertEquals(0, server.server.pool().outstanding(), "every buffer went back to the pool");
  }

  @Test
  void disconnectWaitsForRequestsInFlight() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    device.hook((op, offset, length) -> {
      if (op.equals("write")) {
        try {
          release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    });
    try (RawClient c = RawClient.tcp(server.port)) {
      c.handshake("pcache", false, false);
      byte[] data = new byte[4096];
      java.util.Arrays.fill(data, (byte) 0x77);
      c.write(0, 1, 8192, data);
      c.request(0, Nbd.CMD_DISC, 2, 0, 0);
      Thread.sleep(100);
      release.countDown();
      Reply r = c.simple(0);
      assertEquals(1, r.cookie());
      assertEquals(0, r.error());
      assertTrue(c.closedByServer());
    }
    assertEquals(0x77, device.memory().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 8192 + 4095),
        "the acknowledged write is on the device");
  }

  @Test
  void readOnlyExport(@TempDir Path other) throws IOException {
    try (MemoryDevice ro = new MemoryDevice("ro", 1 << 20);
        TestServer s = TestServer.start(ro, other, Map.of(NbdSettings.READ_ONLY, "true"))) {
      try (RawClient c = RawClient.tcp(s.port)) {
        Negotiated n = c.handshake("pcache", false, false);
        assertTrue((n.flags() & Nbd.FLAG_READ_ONLY) != 0);
        assertEquals(0, n.flags() & (Nbd.FLAG_SEND_TRIM | Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_SEND_FUA));
        c.write(0, 1, 0, new byte[512]);
        assertEquals(Nbd.EPERM, c.simple(0).error());
        c.request(0, Nbd.CMD_TRIM, 2, 0, 512);
        assertEquals(Nbd.EPERM, c.simple(0).error());
        c.request(0, Nbd.CMD_READ, 3, 0, 512);
        assertEquals(0, c.simple(512).error());
      }
    }
  }

  @Test
  void connectionLimit(@TempDir Path other) throws Exception {
    try (MemoryDevice d = new MemoryDevice("d", 1 << 20);
        TestServer s = TestServer.start(d, other, Map.of(NbdSettings.MAX_CONNECTIONS, "2"));
        RawClient a = RawClient.tcp(s.port); RawClient b = RawClient.tcp(s.port)) {
      a.greeting();
      b.greeting();
      try (RawClient third = RawClient.tcp(s.port)) {
        assertTrue(third.closedByServer(), "the third connection is closed at once");
      }
      a.clientFlags(1);
      a.close();
      waitFor(() -> s.server.connectionCount() == 1);
      try (RawClient again = RawClient.tcp(s.port)) {
        assertEquals(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES, again.greeting(), "a slot is free again");
      }
    }
  }

  @Test
  void bigTransfersGoStraightIntoTheirBuffers() throws IOException {
    SplittableRandom r = Seeds.random("ProtocolCornerTest.bigTransfers");
    byte[] data = random(r, 1 << 20);
    try (RawClient c = RawClient.tcp(server.port)) {
      c.handshake("pcache", false, false);
      for (int i = 0; i < 8; i++) {
        c.write(0, i, (long) i << 20, data);
      }
      for (int i = 0; i < 8; i++) {
        assertEquals(0, c.simple(0).error());
      }
      c.request(0, Nbd.CMD_READ, 99, 5L << 20, 1 << 20);
      assertArrayEquals(data, c.simple(1 << 20).data());
    }
    assertEquals(-1, MemorySegment.ofArray(data).mismatch(device.memory().asSlice(7L << 20, 1 << 20)),
        "the device holds the data");
  }

  @Test
  void severalExportsByName(@TempDir Path other) throws Exception {
    try (MemoryDevice a = new MemoryDevice("a", 1 << 20); MemoryDevice b = new MemoryDevice("b", 2 << 20)) {
      NbdSettings settings = NbdSettings.from(new MapConfig(new NbdFrontendProvider().configKeys(),
          Map.of(NbdSettings.LISTEN, "unix:" + other.resolve("multi.sock"))));
      NbdServer multi = new NbdServer(List.of(new Export("first", "the first", a, false),
          new Export("second", "the second", b, true)), settings, null);
      multi.start();
      try {
        assertEquals(List.of("nbd+unix:///first?socket=" + other.resolve("multi.sock")), multi.endpoints());
        try (RawClient c = RawClient.unix(other.resolve("multi.sock"))) {
          c.hello();
          List<OptReply> list = c.ask(Nbd.OPT_LIST, new byte[0]);
          assertEquals(3, list.size());
          assertEquals(Nbd.REP_ERR_UNKNOWN, c.ask(Nbd.OPT_GO, RawClient.goData("third")).getFirst().type());
          Negotiated n = c.negotiate("second", false, false);
          assertEquals(2 << 20, n.size());
          assertTrue((n.flags() & Nbd.FLAG_READ_ONLY) != 0);
        }
        try (RawClient c = RawClient.unix(other.resolve("multi.sock"))) {
          assertEquals(1 << 20, c.handshake("", false, false).size(), "the empty name is the first export");
        }
      } finally {
        multi.close();
      }
    }
  }

  private void waitForNoConnections() throws InterruptedException {
    waitFor(() -> server.server.connectionCount() == 0);
  }

  static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertFalse(System.nanoTime() > deadline, "condition not met within 10 s");
      Thread.sleep(10);
    }
  }
}
