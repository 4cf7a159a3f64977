package io.pcache.frontend.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;

/** A TCP or Unix-domain socket channel in blocking mode. */
final class PlainTransport implements Transport {

  private final SocketChannel channel;
  private final ReentrantLock writeLock = new ReentrantLock();

  PlainTransport(SocketChannel channel) {
    this.channel = channel;
  }

  SocketChannel channel() {
    return channel;
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    return channel.read(dst);
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
        left -= channel.write(srcs);
      }
    } finally {
      writeLock.unlock();
    }
  }

  @Override
  public void shutdownInput() {
    try {
      channel.shutdownInput();
    } catch (IOException e) {
      // already closed or not connected: the reader sees the end of the stream or an error anyway
    }
  }

  @Override
  public void abort() {
    try {
      channel.close();
    } catch (IOException e) {
      // closing for good: nothing left to do
    }
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
