package io.pcache.core.engine;

import io.pcache.core.format.KeyRecord;
import io.pcache.core.format.Layout;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One in-memory kset (dm-pcache keeps one per CPU; here a fixed number, chosen by stripe so that
 * every key of one 4 MiB region goes to the same buffer and the log keeps their order). Keys are
 * encoded straight into the on-media image; closing hands the image to the {@link KeyLog}.
 *
 * <p>Callers hold {@link #lock} for {@link #append} and {@link #close}.
 */
final class KsetBuffer {

  final ReentrantLock lock = new ReentrantLock();
  private final MemorySegment buf = Arena.ofAuto().allocate(Layout.KSET_SIZE_MAX, 8);
  private final KeyLog log;
  private int count;
  /** Nanotime of the first key not yet closed, or 0 when empty. */
  private long firstKeyNanos;
  /** Whether a delayed close of this kset is scheduled (under {@link #lock}). */
  boolean flushScheduled;
  /** Which delayed close is current; an older scheduled one finds a different value and ends. */
  long flushToken;

  KsetBuffer(KeyLog log) {
    this.log = log;
  }

  int count() {
    return count;
  }

  long firstKeyNanos() {
    return firstKeyNanos;
  }

  /**
   * Adds a key; closes the kset when it is full or {@code forceClose} (FUA). When the close fails
   * the key is taken back out and the error thrown: the caller undoes its index insert.
   *
   * @return true when the kset was closed by this call
   */
  boolean append(KeyRecord key, boolean forceClose) throws IOException, InterruptedException {
    key.encode(buf, Layout.KSET_HEADER_SIZE + (long) count * Layout.KEY_SIZE);
    count++;
    if (count == 1) {
      firstKeyNanos = System.nanoTime();
    }
    if (count == Layout.KSET_KEYS_MAX || forceClose) {
      try {
        close();
      } catch (IOException | InterruptedException | RuntimeException e) {
        count--;
        throw e;
      }
      return true;
    }
    return false;
  }

  /** Writes the kset to the log if it holds any key. */
  void close() throws IOException, InterruptedException {
    if (count == 0) {
      return;
    }
    log.append(buf, count);
    count = 0;
    firstKeyNanos = 0;
  }
}
