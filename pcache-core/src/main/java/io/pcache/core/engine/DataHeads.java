package io.pcache.core.engine;

import io.pcache.core.format.Layout;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Where new data goes in the cache: a few data heads, each filling one segment front to back
 * (dm-pcache has one per CPU). A write piece picks its head by stripe, so consecutive writes to
 * one region land next to each other. An allocation never crosses a segment's end: the piece is
 * shortened and the caller asks again for the rest.
 *
 * <p>Each allocation takes a reference on its segment for the key that will point there; the head
 * holds one more while the segment is its current one.
 */
final class DataHeads {

  /** A granted piece of cache space. */
  record Grant(CacheSegment segment, int segOff, int len) {}

  private static final class Head {
    final ReentrantLock lock = new ReentrantLock();
    CacheSegment segment;
    int off;
  }

  private final Head[] heads;
  private final Segments segments;

  DataHeads(int count, Segments segments) {
    this.heads = new Head[count];
    for (int i = 0; i < count; i++) {
      heads[i] = new Head();
    }
    this.segments = segments;
  }

  /**
   * Allocates up to {@code len} bytes (a multiple of 512) for a key, waiting for a free segment
   * when the cache is full.
   *
   * @param wait how long to wait for space; zero to fail at once (read-miss fills)
   * @return the grant, or null when no space became free in time
   */
  Grant allocate(int stripe, int len, Duration wait) throws IOException, InterruptedException {
    Head h = heads[Math.floorMod(stripe, heads.length)];
    if (wait.isZero()) {
      // A read-miss fill: never wait, not even for a writer that holds the head while it waits
      // for space on a full cache.
      if (!h.lock.tryLock()) {
        return null;
      }
    } else {
      h.lock.lock();
    }
    try {
      if (h.segment == null) {
        CacheSegment seg = segments.allocateData(wait);
        if (seg == null) {
          return null;
        }
        seg.get(); // the head's own reference
        h.segment = seg;
        h.off = 0;
      }
      CacheSegment seg = h.segment;
      int grant = (int) Math.min(len, Layout.SEG_DATA_SIZE - h.off);
      Grant g = new Grant(seg, h.off, grant);
      seg.get(); // the key's reference
      h.off += grant;
      if (h.off == Layout.SEG_DATA_SIZE) {
        h.segment = null;
        segments.put(seg);
      }
      return g;
    } finally {
      h.lock.unlock();
    }
  }

  /** Lets every head drop its segment (shutdown). */
  void release() throws IOException {
    for (Head h : heads) {
      h.lock.lock();
      try {
        if (h.segment != null) {
          CacheSegment seg = h.segment;
          h.segment = null;
          segments.put(seg);
        }
      } finally {
        h.lock.unlock();
      }
    }
  }
}
