package io.pcache.frontend.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Sends a connection's replies, combining the replies that are ready at the same moment into one
 * gathering write.
 *
 * <p>A request thread {@linkplain #send queues} its reply and, if no other thread is writing,
 * becomes the writer: it drains the queue in batches until it is empty, then leaves. A thread that
 * finds a writer at work returns at once; its reply goes out with the next batch. The connection's
 * reader, which answers quick requests itself, {@linkplain #queue queues} their replies and
 * {@linkplain #flush flushes} them once before it next waits for input, so that a burst of
 * pipelined requests is answered with one write. Each reply's
 * {@code done} callback runs once its bytes were handed to the transport (or dropped because the
 * connection broke), which is when its buffers may be reused and its in-flight slot freed.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>With 32 reads in flight, replies complete in bursts; writing each with its own system call
 * costs a syscall and a wake-up of the client per reply, combining them costs one per burst. A
 * batch is capped at {@link #MAX_BATCH} replies and {@link #MAX_BATCH_BYTES} bytes so that one
 * writer does not hold the socket for long. The queue is lock-free; the only lock is the
 * transport's own, uncontended because there is one writer at a time.
 */
final class ReplyWriter {

  /** Replies per gathering write at most (each is 1 or 2 buffers; IOV_MAX is 1024). */
  static final int MAX_BATCH = 64;
  /** Bytes per gathering write at most (a batch always takes at least one reply). */
  static final long MAX_BATCH_BYTES = 4L << 20;

  /** What to do when a write fails: the connection is broken. */
  interface Failure {
    void failed(IOException e);
  }

  private record Pending(ByteBuffer[] buffers, Runnable done) {}

  private final Transport transport;
  private final Failure failure;
  private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean writing = new AtomicBoolean();
  /** The writer's scratch lists, reused (one writer at a time; {@link #writing} hands them over). */
  private final List<Pending> batch = new ArrayList<>(MAX_BATCH);
  private final List<ByteBuffer> buffers = new ArrayList<>(2 * MAX_BATCH);
  private volatile boolean broken;

  ReplyWriter(Transport transport, Failure failure) {
    this.transport = transport;
    this.failure = failure;
  }

  /**
   * Queues a reply; returns once it is written or another thread has taken on writing it.
   *
   * @param done runs exactly once, after the reply was written or dropped
   */
  void send(Runnable done, ByteBuffer... buffers) {
    queue.add(new Pending(buffers, done));
    drain();
  }

  /**
   * Queues a reply without writing it: it leaves with the next {@link #flush}, or earlier with the
   * batch of a thread that is writing anyway.
   *
   * @param done runs exactly once, after the reply was written or dropped
   */
  void queue(Runnable done, ByteBuffer... buffers) {
    queue.add(new Pending(buffers, done));
  }

  /** Writes every queued reply; returns at once if another thread is writing (it takes them along). */
  void flush() {
    drain();
  }

  private void drain() {
    while (!queue.isEmpty()) {
      if (!writing.compareAndSet(false, true)) {
        return; // the writer at work will see our reply: it checks the queue after letting go
      }
      try {
        writeBatches();
      } finally {
        writing.set(false);
      }
    }
  }

  private void writeBatches() {
    List<Pending> batch = this.batch;
    List<ByteBuffer> buffers = this.buffers;
    while (true) {
      batch.clear(); // empty unless an unexpected exception left the last batch (the connection is dropped then)
      buffers.clear();
      long bytes = 0;
      Pending p;
      while (batch.size() < MAX_BATCH && (bytes < MAX_BATCH_BYTES || batch.isEmpty()) && (p = queue.poll()) != null) {
        batch.add(p);
        for (ByteBuffer b : p.buffers()) {
          buffers.add(b);
          bytes += b.remaining();
        }
      }
      if (batch.isEmpty()) {
        return;
      }
      if (!broken) {
        try {
          transport.write(buffers.toArray(ByteBuffer[]::new));
        } catch (IOException e) {
          broken = true;
          failure.failed(e);
        }
      }
      for (Pending done : batch) {
        try {
          done.done().run();
        } catch (RuntimeException e) {
          System.getLogger(ReplyWriter.class.getPackageName()).log(System.Logger.Level.ERROR,
              "NBD reply completion failed", e);
        }
      }
    }
  }

  /** Whether a write failed; later replies are dropped. */
  boolean broken() {
    return broken;
  }
}
