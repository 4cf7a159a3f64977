package io.pcache.frontend.nbd;

import io.pcache.testkit.MapConfig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.frontend.Frontend;
import io.pcache.frontend.nbd.RawClient.Reply;
import java.io.IOException;
import java.net.ConnectException;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The Frontend contract: start, endpoints, close that drains requests in flight, restarts. */
@Timeout(60)
class LifecycleTest {

  @TempDir
  Path dir;

  @Test
  void closeLetsRequestsInFlightFinishAndReply() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try (MemoryDevice device = new MemoryDevice("mem", 1 << 20)) {
      TestServer s = TestServer.start(device, dir);
      device.hook((op, offset, length) -> {
        if (op.equals("write")) {
          entered.countDown();
          try {
            release.await(10, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      });
      try (RawClient c = RawClient.tcp(s.port); RawClient idle = RawClient.unix(s.socket)) {
        c.handshake("pcache", false, false);
        idle.hello();
        byte[] data = new byte[4096];
        java.util.Arrays.fill(data, (byte) 0x42);
        c.write(0, 1, 0, data);
        assertTrue(entered.await(10, TimeUnit.SECONDS));
        AtomicReference<Throwable> closeFailure = new AtomicReference<>();
        Thread closer = Thread.ofVirtual().name("test-closer").start(() -> {
          try {
            s.close();
          } catch (Throwable t) {
            closeFailure.set(t);
          }
        });
        Thread.sleep(200);
        assertTrue(closer.isAlive(), "close waits for the write in flight");
        assertTrue(idle.closedByServer(), "a connection still in the handshake is closed at once");
        release.countDown();
        Reply r = c.simple(0);
        assertEquals(1, r.cookie());
        assertEquals(0, r.error(), "the write in flight is answered");
        assertTrue(c.closedByServer(), "then the connection closes");
        closer.join(10_000);
        assertFalse(closer.isAlive());
        assertEquals(null, closeFailure.get());
      }
      assertEquals(0x42, device.memory().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 4095));
      assertThrows(ConnectException.class, () -> RawClient.tcp(s.port).close(), "no longer accepting");
      assertFalse(Files.exists(s.socket), "the Unix socket file is removed");
    }
  }

  @Test
  void requestsArrivingDuringCloseGetShutdownErrors() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try (MemoryDevice device = new MemoryDevice("mem", 1 << 20)) {
      TestServer s = TestServer.start(device, dir, Map.of(NbdSettings.MAX_REQUESTS, "1"));
      device.hook((op, offset, length) -> {
        if (offset == 0) {
          entered.countDown();
          try {
            release.await(10, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      });
      try (RawClient c = RawClient.tcp(s.port)) {
        c.handshake("pcache", false, false);
        for (int i = 0; i < 5; i++) {
          c.request(0, Nbd.CMD_READ, i, (long) i * 512, 512);
        }
        assertTrue(entered.await(10, TimeUnit.SECONDS));
        Thread closer = Thread.ofVirtual().start(() -> {
          try {
            s.close();
          } catch (IOException e) {
            throw new RuntimeException(e);
          }
        });
        Thread.sleep(100);
        release.countDown();
        List<Reply> replies = new java.util.ArrayList<>();
        Reply r;
        while ((r = c.simpleOrEnd(512)) != null) {
          replies.add(r);
        }
        closer.join(10_000);
        assertEquals(5, replies.size(), "every request the server read is answered: " + replies);
        assertEquals(0, replies.getFirst().cookie());
        assertEquals(0, replies.getFirst().error(), "the request in flight completes");
        for (Reply later : replies.subList(1, 5)) {
          assertTrue(later.error() == 0 || later.error() == Nbd.ESHUTDOWN, "got " + later.error());
        }
        assertTrue(replies.stream().anyMatch(x -> x.error() == Nbd.ESHUTDOWN), "requests after the stop: ESHUTDOWN");
      }
    }
  }

  @Test
  void aClientStuckInTheHandshakeIsDropped() throws Exception {
    try (MemoryDevice device = new MemoryDevice("mem", 1 << 20); TestServer s = TestServer.start(device, dir)) {
      s.server.handshakeTimeout = java.time.Duration.ofMillis(300);
      try (RawClient slow = RawClient.tcp(s.port); RawClient quick = RawClient.tcp(s.port)) {
        slow.greeting();
        quick.handshake("pcache", false, false);
        long t0 = System.nanoTime();
        assertTrue(slow.closedByServer(), "dropped after the handshake timeout");
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5));
        Thread.sleep(400);
        quick.request(0, Nbd.CMD_READ, 1, 0, 512);
        assertEquals(0, quick.simple(512).error(), "a connection in transmission is never timed out");
      }
    }
  }

  @Test
  void startCloseContract() throws IOException {
    try (MemoryDevice device = new MemoryDevice("mem", 1 << 20)) {
      NbdFrontendProvider p = new NbdFrontendProvider();
      Frontend f = p.create(device, new MapConfig(p.configKeys(), Map.of(NbdSettings.LISTEN, "127.0.0.1:0")));
      assertEquals(List.of(), f.endpoints(), "no endpoints before start");
      f.start();
      assertThrows(IllegalStateException.class, f::start);
      assertTrue(f.endpoints().getFirst().matches("nbd://127\\.0\\.0\\.1:\\d+/pcache"), f.endpoints().toString());
      f.close();
      f.close();
      assertThrows(IllegalStateException.class, f::start, "no restart after close");
      Frontend never = p.create(device, new MapConfig(p.configKeys(), Map.of(NbdSettings.LISTEN, "127.0.0.1:0")));
      never.close();
    }
  }

  @Test
  void addressInUseIsReportedWithTheKey() throws IOException {
    try (MemoryDevice device = new MemoryDevice("mem", 1 << 20); ServerSocket taken = new ServerSocket(0)) {
      NbdFrontendProvider p = new NbdFrontendProvider();
      Frontend f = p.create(device, new MapConfig(p.configKeys(),
          Map.of(NbdSettings.LISTEN, "127.0.0.1:" + taken.getLocalPort())));
      IOException e = assertThrows(IOException.class, f::start);
      assertTrue(e.getMessage().contains("nbd.listen"), e.getMessage());
      f.close();
    }
  }

  @Test
  void staleUnixSocketIsReplacedButALiveOneIsNot() throws IOException {
    Path sock = dir.resolve("stale.sock");
    try (ServerSocketChannel old = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      old.bind(UnixDomainSocketAddress.of(sock));
      try (MemoryDevice device = new MemoryDevice("mem", 1 << 20)) {
        NbdFrontendProvider p = new NbdFrontendProvider();
        Frontend live = p.create(device, new MapConfig(p.configKeys(), Map.of(NbdSettings.LISTEN, "unix:" + sock)));
        IOException e = assertThrows(IOException.class, live::start);
        assertTrue(e.getMessage().contains("another server is listening"), e.getMessage());
      }
    }
    assertTrue(Files.exists(sock), "closing a channel leaves its socket file behind");
    try (MemoryDevice device = new MemoryDevice("mem", 1 << 20)) {
      NbdFrontendProvider p = new NbdFrontendProvider();
      Frontend f = p.create(device, new MapConfig(p.configKeys(), Map.of(NbdSettings.LISTEN, "unix:" + sock)));
      f.start();
      assertEquals(List.of("nbd+unix:///pcache?socket=" + sock), f.endpoints());
      try (RawClient c = RawClient.unix(sock)) {
        c.handshake("", false, false);
      }
      f.close();
    }
    Path file = dir.resolve("regular");
    Files.writeString(file, "x");
    try (MemoryDevice device = new MemoryDevice("mem", 1 << 20)) {
      NbdFrontendProvider p = new NbdFrontendProvider();
      Frontend f = p.create(device, new MapConfig(p.configKeys(), Map.of(NbdSettings.LISTEN, "unix:" + file)));
      assertThrows(IOException.class, f::start, "a regular file is never removed");
      assertTrue(Files.exists(file));
    }
  }
}
