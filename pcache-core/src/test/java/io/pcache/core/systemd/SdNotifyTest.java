package io.pcache.core.systemd;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sd_notify against a datagram socket bound the way systemd binds NOTIFY_SOCKET. */
class SdNotifyTest {

  /** MSG_DONTWAIT: the receiver polls, so a lost datagram fails the test instead of hanging it. */
  private static final int MSG_DONTWAIT = 0x40;

  /** A Unix datagram socket bound to {@code name}, as systemd's notify socket. */
  private static final class Receiver implements AutoCloseable {
    final Arena arena = Arena.ofConfined();
    final MemorySegment state = arena.allocate(Linker.Option.captureStateLayout());
    final int fd;

    Receiver(String name) throws Throwable {
      fd = SdNotify.Native.socket(arena, state);
      MemorySegment sa = SdNotify.address(arena, name);
      int r = (int) SdNotify.Native.BIND.invokeExact(state, fd, sa, (int) sa.byteSize());
      if (r != 0) {
        throw new IOException("bind " + name + ": errno " + SdNotify.Native.errno(state));
      }
    }

    String receive() throws Throwable {
      MemorySegment buf = arena.allocate(4096);
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (System.nanoTime() < deadline) {
        long n = (long) SdNotify.Native.RECV.invokeExact(state, fd, buf, 4096L, MSG_DONTWAIT);
        if (n >= 0) {
          return new String(buf.asSlice(0, n).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
        }
        Thread.sleep(5);
      }
      throw new AssertionError("no datagram within 10 s");
    }

    @Override
    public void close() {
      SdNotify.Native.close(fd);
      arena.close();
    }
  }

  @Test
  void readyReachesASocketBoundToAPath(@TempDir Path dir) throws Throwable {
    Path socket = dir.resolve("notify");
    try (Receiver r = new Receiver(socket.toString())) {
      SdNotify n = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", socket.toString()));
      assertTrue(n.enabled());
      n.send("READY=1\nSTATUS=serving nbd://127.0.0.1:10809/pcache");
      assertEquals("READY=1\nSTATUS=serving nbd://127.0.0.1:10809/pcache", r.receive());
      n.send("STOPPING=1");
      assertEquals("STOPPING=1", r.receive());
    }
    assertTrue(Files.exists(socket));
  }

  @Test
  void readyReachesAnAbstractSocket() throws Throwable {
    String name = "@pcache-sdnotify-test-" + ProcessHandle.current().pid();
    try (Receiver r = new Receiver(name)) {
      SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", name)).send("READY=1");
      assertEquals("READY=1", r.receive());
    }
  }

  @Test
  void withoutNotifySocketNothingIsSent() throws IOException {
    SdNotify n = SdNotify.fromEnvironment(Map.of());
    assertFalse(n.enabled());
    n.send("READY=1");
  }

  @Test
  void aSocketNobodyListensOnIsAnErrorThatNamesIt(@TempDir Path dir) {
    String missing = dir.resolve("nobody").toString();
    IOException e = assertThrows(IOException.class, () -> SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", missing)).send("READY=1"));
    assertTrue(e.getMessage().contains(missing), e.getMessage());
    assertThrows(IOException.class, () -> SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", "relative")).send("READY=1"));
  }
}
