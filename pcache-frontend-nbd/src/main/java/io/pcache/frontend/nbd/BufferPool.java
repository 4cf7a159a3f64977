package io.pcache.frontend.nbd;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Native buffers for payloads and replies, pooled by power-of-two size class, each with {@link
 * #HEADROOM} bytes in front of the payload for the reply header.
 *
 * <p>A buffer is used as: bytes {@code [HEADROOM - h, HEADROOM)} the reply header of {@code h}
 * bytes, bytes {@code [HEADROOM, HEADROOM + n)} the data; so a read reply leaves in one write and
 * the data lies 64-byte aligned (a cache line) for the device.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>Classes run from 4 KiB to 1 MiB. Pooled buffers come from one shared arena that lives as long
 * as the server, up to {@link #DEFAULT_RETAINED} bytes (64 MiB) in total; beyond that, and for
 * payloads above 1 MiB, each buffer gets an arena of its own that is closed when the buffer is
 * released, so native memory is returned at once instead of waiting for the garbage collector.
 * Closing a shared arena costs a thread handshake (tens of microseconds), which is noise next to
 * the megabyte it frees. {@link #outstanding()} counts buffers handed out and not released: tests
 * assert it returns to zero, which is how leaks are caught.
 */
final class BufferPool implements AutoCloseable {

  /** Bytes before the payload, for a reply header (the largest is a 28-byte data chunk header). */
  static final int HEADROOM = 64;
  /** Pooled native bytes at most. */
  static final long DEFAULT_RETAINED = 64L << 20;

  private static final int MIN_SHIFT = 12;
  private static final int MAX_POOLED_SHIFT = 20;
  private static final System.Logger LOG = System.getLogger(BufferPool.class.getName());

  /** A buffer: its memory, a byte-buffer view of all of it, and how it is given back. */
  static final class Buf {
    private final MemorySegment segment;
    private final ByteBuffer buffer;
    private final int sizeClass;
    private final Arena own;
    private final AtomicBoolean out = new AtomicBoolean();

    private Buf(MemorySegment segment, int sizeClass, Arena own) {
      this.segment = segment;
      this.buffer = segment.asByteBuffer();
      this.sizeClass = sizeClass;
      this.own = own;
    }

    /** The whole buffer, headroom included. */
    MemorySegment segment() {
      return segment;
    }

    /** The {@code length} payload bytes after the headroom, as a segment. */
    MemorySegment payload(long length) {
      return segment.asSlice(HEADROOM, length);
    }

    /** A fresh view of {@code [from, to)} (position 0, limit {@code to - from}). */
    ByteBuffer view(int from, int to) {
      return buffer.slice(from, to - from);
    }

    /** The payload capacity. */
    int capacity() {
      return (int) segment.byteSize() - HEADROOM;
    }
  }

  private final Arena arena = Arena.ofShared();
  @SuppressWarnings("unchecked")
  private final ConcurrentLinkedQueue<Buf>[] free = new ConcurrentLinkedQueue[MAX_POOLED_SHIFT - MIN_SHIFT + 1];
  private final long retainLimit;
  private final AtomicLong retained = new AtomicLong();
  private final AtomicLong outstanding = new AtomicLong();
  private final AtomicBoolean closed = new AtomicBoolean();

  BufferPool() {
    this(DEFAULT_RETAINED);
  }

  BufferPool(long retainLimit) {
    this.retainLimit = retainLimit;
    for (int i = 0; i < free.length; i++) {
      free[i] = new ConcurrentLinkedQueue<>();
    }
  }

  /** A buffer with room for at least {@code payload} bytes after the headroom. */
  Buf acquire(long payload) {
    if (payload < 0 || payload > Integer.MAX_VALUE - HEADROOM - 4096) {
      throw new IllegalArgumentException("buffer of " + payload + " bytes");
    }
    if (closed.get()) {
      throw new IllegalStateException("buffer pool closed");
    }
    int shift = Math.max(MIN_SHIFT, 64 - Long.numberOfLeadingZeros(Math.max(1, payload) - 1));
    outstanding.incrementAndGet();
    if (shift <= MAX_POOLED_SHIFT) {
      int c = shift - MIN_SHIFT;
      Buf b = free[c].poll();
      if (b == null) {
        long bytes = (1L << shift) + HEADROOM;
        if (retained.addAndGet(bytes) <= retainLimit) {
          b = new Buf(arena.allocate(bytes, HEADROOM), c, null);
        } else {
          retained.addAndGet(-bytes);
          b = oneOff(1L << shift);
        }
      }
      b.out.set(true);
      return b;
    }
    Buf b = oneOff(payload);
    b.out.set(true);
    return b;
  }

  /** Gives a buffer back; it must not be used afterwards. Releasing twice is an error. */
  void release(Buf b) {
    if (!b.out.compareAndSet(true, false)) {
      throw new IllegalStateException("buffer released twice");
    }
    outstanding.decrementAndGet();
    if (b.own != null) {
      b.own.close();
    } else if (!closed.get()) {
      free[b.sizeClass].offer(b);
    }
  }

  /** Buffers handed out and not yet released. */
  long outstanding() {
    return outstanding.get();
  }

  /** Native bytes held by the pool's own arena. */
  long retainedBytes() {
    return retained.get();
  }

  /**
   * Frees the pooled memory. Buffers still out must not be used any more: their memory is gone
   * (reported as a leak in the log).
   */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      long out = outstanding.get();
      if (out != 0) {
        LOG.log(System.Logger.Level.WARNING, "closing the NBD buffer pool with " + out + " buffers still in use");
      }
      for (ConcurrentLinkedQueue<Buf> q : free) {
        q.clear();
      }
      try {
        arena.close();
      } catch (IllegalStateException e) {
        LOG.log(System.Logger.Level.WARNING, "NBD buffer pool memory still in use; left to the garbage collector: "
            + e.getMessage());
      }
    }
  }

  private static Buf oneOff(long payload) {
    Arena own = Arena.ofShared();
    try {
      return new Buf(own.allocate(payload + HEADROOM, HEADROOM), -1, own);
    } catch (RuntimeException | OutOfMemoryError e) {
      own.close();
      throw e;
    }
  }
}
