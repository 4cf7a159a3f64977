package io.pcache.frontend.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The socket transport under the reader's poll-then-sleep reads and the writers' wait for room:
 * reads and writes complete whether the data comes at once, within the poll or long after it; the
 * reader does not spin once its poll is over; abort and input shutdown wake a sleeping reader and
 * writer; and no selector or socket outlives {@link PlainTransport#close}.
 */
class PlainTransportTest {

  private ServerSocketChannel listener;
  private SocketChannel peer;
  private PlainTransport transport;

  @BeforeEach
  void connect() throws IOException {
    listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
    peer = SocketChannel.open(listener.getLocalAddress());
  }

  private PlainTransport open(long pollNanos) throws IOException {
    transport = PlainTransport.open(listener.accept(), pollNanos);
    return transport;
  }

  @AfterEach
  void close() throws IOException {
    if (transport != null) {
      transport.abort();
    }
    peer.close();
    listener.close();
  }

  @ParameterizedTest(name = "poll {0} ns")
  @ValueSource(longs = {0, 100_000, 50_000_000})
  void readsWhatComesAtOnceWithinThePollAndAfterIt(long pollNanos) throws Exception {
    PlainTransport t = open(pollNanos);
    for (long delayMs : new long[] {0, 1, 120}) {
      ByteBuffer dst = ByteBuffer.allocate(100);
      CompletableFuture<Integer> read = CompletableFuture.supplyAsync(() -> uncheckedRead(t, dst), PlainTransportTest::reader);
      Thread.sleep(delayMs);
      peer.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
      int n = read.get(10, TimeUnit.SECONDS);
      assertTrue(n >= 1 && n <= 3, "read " + n + " bytes after " + delayMs + " ms");
      while (dst.position() < 3) {
        t.read(dst);
      }
      assertArrayEquals(new byte[] {1, 2, 3}, Arrays.copyOf(dst.array(), 3));
    }
  }

  @Test
  void aReaderSleepsOnceItsPollIsOver() throws Exception {
    PlainTransport t = open(1_000_000); // 1 ms
    CompletableFuture<Integer> read = CompletableFuture.supplyAsync(() -> uncheckedRead(t, ByteBuffer.allocate(10)),
        PlainTransportTest::reader);
    Thread.sleep(100);
    long before = processCpuNanos();
    Thread.sleep(1500);
    long used = processCpuNanos() - before;
    peer.write(ByteBuffer.wrap(new byte[] {7}));
    assertEquals(1, read.get(10, TimeUnit.SECONDS));
    assertTrue(used < 500_000_000L, "while a reader waited 1.5 s the process used " + used / 1_000_000
        + " ms of CPU: the reader spun");
  }

  private static long processCpuNanos() {
    return ProcessHandle.current().info().totalCpuDuration().orElseThrow().toNanos();
  }

  /** Runs a reader on a platform thread, as {@link NbdServer} does. */
  private static void reader(Runnable r) {
    Thread.ofPlatform().name("transport-test-reader").start(r);
  }

  @Test
  void aWriterWaitsForRoomAndThenSendsEverything() throws Exception {
    PlainTransport t = open(100_000);
    byte[] data = new byte[16 << 20]; // far more than the socket buffers hold
    new Random(4).nextBytes(data);
    CompletableFuture<Void> write = CompletableFuture.runAsync(() -> uncheckedWrite(t, ByteBuffer.wrap(data)),
        Thread::startVirtualThread);
    Thread.sleep(300);
    assertFalse(write.isDone(), "the peer reads nothing: the write must wait");
    ByteBuffer got = ByteBuffer.allocate(data.length);
    while (got.hasRemaining()) {
      assertTrue(peer.read(got) > 0);
    }
    write.get(10, TimeUnit.SECONDS);
    assertArrayEquals(data, got.array());
  }

  @Test
  @Timeout(30)
  void abortWakesASleepingReaderAndASleepingWriter() throws Exception {
    PlainTransport t = open(100_000);
    CompletableFuture<Integer> read = CompletableFuture.supplyAsync(() -> uncheckedRead(t, ByteBuffer.allocate(10)),
        PlainTransportTest::reader);
    CompletableFuture<Void> write = CompletableFuture.runAsync(
        () -> uncheckedWrite(t, ByteBuffer.allocate(16 << 20)), Thread::startVirtualThread);
    Thread.sleep(300);
    assertFalse(read.isDone());
    assertFalse(write.isDone());
    t.abort();
    assertInstanceOf(IOException.class, failure(read));
    assertInstanceOf(IOException.class, failure(write));
    // the socket is really closed: the peer sees the end of the stream (or a reset) after the bytes already sent
    ByteBuffer sink = ByteBuffer.allocate(1 << 20);
    int n = 0;
    while (n >= 0) { // @Timeout ends a read that never sees the end
      sink.clear();
      try {
        n = peer.read(sink);
      } catch (IOException e) {
        n = -1;
      }
    }
    assertEquals(-1, n, "the peer still sees an open socket after abort");
  }

  @Test
  void shutdownInputEndsASleepingReadAndWritesGoOn() throws Exception {
    PlainTransport t = open(100_000);
    CompletableFuture<Integer> read = CompletableFuture.supplyAsync(() -> uncheckedRead(t, ByteBuffer.allocate(10)),
        PlainTransportTest::reader);
    Thread.sleep(300);
    assertFalse(read.isDone());
    t.shutdownInput();
    assertEquals(-1, read.get(10, TimeUnit.SECONDS));
    t.write(ByteBuffer.wrap(new byte[] {9, 8}));
    ByteBuffer got = ByteBuffer.allocate(2);
    while (got.hasRemaining()) {
      peer.read(got);
    }
    assertArrayEquals(new byte[] {9, 8}, got.array());
  }

  @Test
  void closeAndAbortLeaveNoDescriptorBehind() throws Exception {
    Path fds = Path.of("/proc/self/fd");
    assumeTrue(Files.isDirectory(fds), "needs /proc/self/fd");
    long before = count(fds);
    for (int i = 0; i < 50; i++) {
      try (SocketChannel client = SocketChannel.open(listener.getLocalAddress())) {
        PlainTransport t = PlainTransport.open(listener.accept(), 100_000);
        t.write(ByteBuffer.wrap(new byte[] {1}));
        if (i % 2 == 0) {
          t.close();
        } else {
          t.abort();
        }
      }
    }
    long after = count(fds);
    assertTrue(after - before < 10, "descriptors before " + before + ", after 50 transports " + after);
  }

  private static long count(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.count();
    }
  }

  /** What {@code f} failed with, unwrapped down to the transport's exception. */
  private static Throwable failure(CompletableFuture<?> f) throws InterruptedException, TimeoutException {
    try {
      f.get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      return cause instanceof UncheckedIOException u ? u.getCause() : cause;
    }
    throw new AssertionError("completed normally after abort");
  }

  private static int uncheckedRead(PlainTransport t, ByteBuffer dst) {
    try {
      return t.read(dst);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void uncheckedWrite(PlainTransport t, ByteBuffer src) {
    try {
      t.write(src);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
