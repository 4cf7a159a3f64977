package io.pcache.core.control;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Cuts a byte stream into UTF-8 lines: a pure state machine fed with whatever chunks the socket
 * delivers (a line may arrive in many pieces, many lines in one). A line ends at {@code \n}; a
 * {@code \r} before it is dropped; bytes that are not UTF-8 become U+FFFD.
 *
 * <p>A line longer than the limit puts the decoder in its bad state for good: {@link #feed}
 * then throws, since the next line boundary can no longer be trusted. Not thread-safe; one per
 * connection.
 */
final class LineDecoder {

  private final int maxLine;
  private byte[] buf = new byte[256];
  private int len;
  private boolean bad;

  /** @param maxLine the longest line accepted, in bytes, without its line end */
  LineDecoder(int maxLine) {
    if (maxLine < 1) {
      throw new IllegalArgumentException("maxLine " + maxLine);
    }
    this.maxLine = maxLine;
  }

  /**
   * Consumes every remaining byte of {@code in}.
   *
   * @return the lines completed by these bytes, in order (possibly none)
   * @throws IllegalStateException when a line exceeds the limit, and on every call after that
   */
  List<String> feed(ByteBuffer in) {
    if (bad) {
      throw new IllegalStateException("line longer than " + maxLine + " bytes");
    }
    List<String> lines = new ArrayList<>(2);
    while (in.hasRemaining()) {
      byte b = in.get();
      if (b == '\n') {
        int end = len > 0 && buf[len - 1] == '\r' ? len - 1 : len;
        lines.add(new String(buf, 0, end, StandardCharsets.UTF_8));
        len = 0;
        continue;
      }
      // One byte of slack for a '\r' that belongs to the line end.
      if (len >= maxLine + 1 || (len == maxLine && b != '\r')) {
        bad = true;
        len = 0;
        throw new IllegalStateException("line longer than " + maxLine + " bytes");
      }
      if (len == buf.length) {
        buf = Arrays.copyOf(buf, Math.min(buf.length * 2, maxLine + 1));
      }
      buf[len++] = b;
    }
    return lines;
  }

  /** Bytes of an unfinished line held so far. */
  int pending() {
    return len;
  }
}
