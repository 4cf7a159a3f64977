package io.pcache.frontend.nbd;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A connection's byte stream, plain or TLS, in blocking style: {@link #read} and {@link #write}
 * return only once they have moved bytes (the reader is a platform thread, writers are the reader
 * and virtual threads).
 *
 * <p>One thread reads; any number of threads write, and each {@link #write} call leaves as one
 * contiguous piece of the stream, so a reply is never interleaved with another.
 */
interface Transport extends Closeable {

  /** Reads at least one byte into {@code dst}, or returns -1 at the end of the stream. */
  int read(ByteBuffer dst) throws IOException;

  /** Writes every remaining byte of {@code srcs}, atomically with respect to other writers. */
  void write(ByteBuffer... srcs) throws IOException;

  /** Ends the input side: a blocked or later {@link #read} returns -1. Writes still work. */
  void shutdownInput();

  /** Closes at once, without a TLS goodbye: blocked reads and writes fail. Idempotent. */
  void abort();

  /** Closes cleanly (TLS close_notify first). Idempotent. */
  @Override
  void close() throws IOException;
}
