package io.pcache.core.engine;

import io.pcache.api.BlockIOException;
import java.lang.foreign.MemorySegment;

/**
 * The engine's quick variants ({@code tryRead}, {@code tryWrite}, {@code tryFlush}) followed by
 * the blocking call when they decline, as a front-end runs them; with {@code quickFirst} false,
 * the blocking call alone. The model and crash tests choose at random, so both paths face the
 * same checks.
 */
final class TryPaths {

  private TryPaths() {}

  static void write(CacheEngine e, long offset, MemorySegment src, boolean fua, boolean quickFirst)
      throws BlockIOException {
    if (!quickFirst || !e.tryWrite(offset, src, fua)) {
      e.write(offset, src, fua);
    }
  }

  static void read(CacheEngine e, long offset, MemorySegment dst, boolean quickFirst) throws BlockIOException {
    if (!quickFirst || !e.tryRead(offset, dst)) {
      e.read(offset, dst);
    }
  }

  static void flush(CacheEngine e, boolean quickFirst) throws BlockIOException {
    if (!quickFirst || !e.tryFlush()) {
      e.flush();
    }
  }
}
