package io.pcache.frontend.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Replies from many threads leave whole, each exactly once, with their callbacks run. */
class ReplyWriterTest {

  /** A transport that records writes, optionally failing from the n-th write on. */
  private static final class Recorder implements Transport {
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final AtomicInteger writes = new AtomicInteger();
    final int failFrom;

    Recorder(int failFrom) {
      this.failFrom = failFrom;
    }

    @Override
    public int read(ByteBuffer dst) {
      return -1;
    }

    @Override
    public synchronized void write(ByteBuffer... srcs) throws IOException {
      if (writes.incrementAndGet() >= failFrom) {
        throw new IOException("broken pipe");
      }
      for (ByteBuffer b : srcs) {
        byte[] a = new byte[b.remaining()];
        b.get(a);
        bytes.write(a, 0, a.length);
      }
      Thread.yield();
    }

    @Override
    public void shutdownInput() {}

    @Override
    public void abort() {}

    @Override
    public void close() {}
  }

  @Test
  void concurrentRepliesAreWrittenWholeAndOnce() throws Exception {
    Recorder t = new Recorder(Integer.MAX_VALUE);
    ReplyWriter w = new ReplyWriter(t, e -> { throw new AssertionError(e); });
    int threads = 16;
    int each = 500;
    AtomicInteger done = new AtomicInteger();
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> all = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      int id = i;
      all.add(Thread.ofVirtual().start(() -> {
        try {
          go.await();
        } catch (InterruptedException e) {
          return;
        }
        for (int k = 0; k < each; k++) {
          ByteBuffer head = ByteBuffer.allocate(4).putShort(0, (short) id).putShort(2, (short) k);
          ByteBuffer body = ByteBuffer.allocate(12);
          body.putInt(0, id).putInt(4, k).putInt(8, id ^ k);
          w.send(done::incrementAndGet, head, body);
        }
      }));
    }
    go.countDown();
    for (Thread th : all) {
      th.join();
    }
    assertEquals(threads * each, done.get(), "every callback ran");
    ByteBuffer out = ByteBuffer.wrap(t.bytes.toByteArray());
    assertEquals(threads * each * 16, out.remaining());
    Set<Integer> seen = new HashSet<>();
    while (out.hasRemaining()) {
      int id = out.getShort();
      int k = out.getShort();
      assertEquals(id, out.getInt(), "a reply is never split");
      assertEquals(k, out.getInt());
      assertEquals(id ^ k, out.getInt());
      assertTrue(seen.add(id * 100_000 + k), "each reply once");
    }
    assertTrue(t.writes.get() <= threads * each, "writes " + t.writes.get());
  }

  @Test
  void afterAFailureRepliesAreDroppedButCallbacksStillRun() {
    Recorder t = new Recorder(3);
    AtomicInteger failures = new AtomicInteger();
    ReplyWriter w = new ReplyWriter(t, e -> failures.incrementAndGet());
    AtomicInteger done = new AtomicInteger();
    for (int i = 0; i < 10; i++) {
      w.send(done::incrementAndGet, ByteBuffer.allocate(8));
    }
    assertEquals(10, done.get());
    assertEquals(1, failures.get(), "the failure is reported once");
    assertTrue(w.broken());
    assertEquals(16, t.bytes.size(), "two replies made it before the pipe broke");
  }
}
