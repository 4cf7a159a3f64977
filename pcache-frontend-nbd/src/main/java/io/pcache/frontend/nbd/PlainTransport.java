package io.pcache.frontend.nbd;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A TCP or Unix-domain socket channel, non-blocking underneath, with blocking-style {@link #read}
 * and {@link #write}: a read that finds nothing first polls the socket for a while and only then
 * sleeps in a {@link Selector}; a write that finds the send buffer full sleeps in a second
 * selector until it drains.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>Polling is QEMU's {@code poll-max-ns} for its I/O threads, applied to the connection's
 * reader: a client at queue depth 1 sends its next request a few tens of microseconds after it got
 * the reply to the last one. A reader that slept in the kernel meanwhile must be woken, and on a
 * virtual machine whose other vCPU had gone idle that wake-up costs more than the request itself.
 * Measured here (2 vCPUs) with fio's nbd engine, 4 KiB writes with a FLUSH after each at QD1 on a
 * cache that holds writeback back: 2.5 K per second without polling, 8.6 K with a 50 µs poll
 * (nbdkit memory 2-4.8 K in the same runs); cache-hit reads at QD1 need about 50 µs to catch the
 * next request, hence the 100 µs default (BENCHMARKS.md, "NBD"). The cost: a connection spins for
 * up to that long after each reply, so a client at queue depth 1 keeps one core busy, and one that
 * sends a request now and then costs up to 100 µs of CPU per request. At queue depth 32 the reader
 * nearly always finds a request waiting and never spins.
 *
 * <p>The poll does not adapt. Three adaptive rules were measured against it, in back-to-back
 * runs of QD1 cache-hit reads / writes / writes with a FLUSH after each (5 s, median of 3, per
 * second): fixed 19.9 K / 17.9 K / 6.4 K; QEMU's rule (no polling after a wait longer than the
 * poll, doubling from 4 µs after each shorter wait it missed) 12.2 K / 10.6 K / 5.7 K; halving
 * and doubling 8.5 K / 7.0 K / 7.1 K; halving and restoring in full 18.8 K / 11.1 K / 2.5 K. The
 * adaptive rules settle near the client's turnaround and then miss every few requests; a wait is
 * also long when the server itself is still busy with the client's one request (a FLUSH on a
 * request thread), which the reader cannot tell from an idle client.
 */
final class PlainTransport implements Transport {

  private final SocketChannel channel;
  private final long pollNanos;
  /** Where the reader sleeps until the socket is readable (the reader thread only). */
  private final Selector readable;
  /** Where a writer sleeps until the send buffer has room (under {@link #writeLock}). */
  private final Selector writable;
  private final ReentrantLock writeLock = new ReentrantLock();

  private PlainTransport(SocketChannel channel, long pollNanos, Selector readable, Selector writable) {
    this.channel = channel;
    this.pollNanos = pollNanos;
    this.readable = readable;
    this.writable = writable;
  }

  /**
   * Takes over {@code channel}: makes it non-blocking and registers it for reading and writing.
   *
   * @param pollNanos how long a read that finds nothing polls before it sleeps; 0 sleeps at once
   * @throws IOException when the selectors cannot be opened (the channel is then closed)
   */
  static PlainTransport open(SocketChannel channel, long pollNanos) throws IOException {
    Selector readable = null;
    Selector writable = null;
    try {
      channel.configureBlocking(false);
      readable = Selector.open();
      writable = Selector.open();
      channel.register(readable, SelectionKey.OP_READ);
      channel.register(writable, SelectionKey.OP_WRITE);
      return new PlainTransport(channel, pollNanos, readable, writable);
    } catch (IOException | RuntimeException e) {
      closeQuietly(channel);
      closeQuietly(readable);
      closeQuietly(writable);
      throw e;
    }
  }

  SocketChannel channel() {
    return channel;
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    int n = channel.read(dst);
    if (n != 0 || !dst.hasRemaining()) {
      return n;
    }
    if (pollNanos > 0) {
      long start = System.nanoTime();
      do {
        Thread.onSpinWait();
        n = channel.read(dst);
        if (n != 0) {
          return n;
        }
      } while (System.nanoTime() - start < pollNanos);
    }
    do {
      await(readable);
      n = channel.read(dst);
    } while (n == 0);
    return n;
  }

  @Override
  public void write(ByteBuffer... srcs) throws IOException {
    long left = 0;
    for (ByteBuffer b : srcs) {
      left += b.remaining();
    }
    writeLock.lock();
    try {
      while (left > 0) {
        long n = channel.write(srcs);
        left -= n;
        if (n == 0) {
          await(writable);
        }
      }
    } finally {
      writeLock.unlock();
    }
  }

  /** Sleeps until {@code selector}'s one key is ready, or the transport is aborted. */
  private void await(Selector selector) throws IOException {
    try {
      selector.select();
      selector.selectedKeys().clear();
    } catch (ClosedSelectorException e) {
      throw new ClosedChannelException();
    }
    if (!channel.isOpen()) {
      throw new ClosedChannelException();
    }
  }

  @Override
  public void shutdownInput() {
    try {
      channel.shutdownInput();
    } catch (IOException e) {
      // already closed or not connected: the reader sees the end of the stream or an error anyway
    }
    readable.wakeup();
  }

  /** Closes the channel and both selectors; closing a selector wakes a thread sleeping in it. */
  @Override
  public void abort() {
    closeQuietly(channel);
    closeQuietly(readable);
    closeQuietly(writable);
  }

  @Override
  public void close() throws IOException {
    try {
      channel.close();
    } finally {
      readable.close();
      writable.close();
    }
  }

  private static void closeQuietly(Closeable c) {
    if (c != null) {
      try {
        c.close();
      } catch (IOException e) {
        // closing for good: nothing left to do
      }
    }
  }
}
