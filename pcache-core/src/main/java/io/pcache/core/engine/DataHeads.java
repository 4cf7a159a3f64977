package io.pcache.core.engine;

import io.pcache.core.format.Layout;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Where new data goes in the cache: a few data heads, each filling one segment front to back
 * (dm-pcache has one per CPU). A writer prefers its own head (see {@link #preferred}), so
 * consecutive writes of one writer land next to each other (and writeback can merge sequential
 * ones); when another writer holds that head, the piece takes the next head that is free rather
 * than wait: data placement is free, only the key's kset is bound to the stripe. An allocation never crosses a segment's end:
 * the piece is shortened and the caller asks again for the rest.
 *
 * <p>Implementation note: with two writers and two heads chosen by the write's stripe, the writers
 * met on one head half of the time and each head's fields moved between the cores at every
 * write; a 2-thread burst of 4 KiB writes ran at 1874 ns per write and thread against 1087 ns with
 * one thread (EngineBurstBenchmark, BENCHMARKS.md).
 *
 * <p>Each allocation takes a reference on its segment for the key that will point there; the head
 * holds one more while the segment is its current one.
 */
final class DataHeads {

  /** A granted piece of cache space. */
  record Grant(CacheSegment segment, int segOff, int len) {}

  /** Padding before a head's fields: two writers on two heads must not share a cache line. */
  @SuppressWarnings("unused")
  private static class HeadPadBefore {
    long p00, p01, p02, p03, p04, p05, p06, p07;
  }

  private static class HeadFields extends HeadPadBefore {
    final ReentrantLock lock = new ReentrantLock();
    CacheSegment segment;
    int off;
  }

  /** A head: its fields between 64 bytes of padding on each side (superclass fields come first). */
  @SuppressWarnings("unused")
  private static final class Head extends HeadFields {
    long p10, p11, p12, p13, p14, p15, p16, p17;
  }

  private final Head[] heads;
  private final Segments segments;
  private final java.util.concurrent.atomic.AtomicInteger nextPreferred = new java.util.concurrent.atomic.AtomicInteger();
  /**
   * A platform thread's own head, handed out round-robin on its first write (a writer thread, an
   * NBD connection's reader, a ublk queue): two writers start on different heads, and a head's
   * fields stay in one core's cache. A virtual thread (one per request) starts at its stripe's.
   */
  private final ThreadLocal<int[]> preferred;

  DataHeads(int count, Segments segments) {
    this.heads = new Head[count];
    this.preferred = ThreadLocal.withInitial(() -> new int[] {Math.floorMod(nextPreferred.getAndIncrement(), count)});
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
    int n = heads.length;
    int first = Thread.currentThread().isVirtual() ? Math.floorMod(stripe, n) : preferred.get()[0];
    Head h = null;
    for (int i = 0; i < n && h == null; i++) {
      Head c = heads[first + i < n ? first + i : first + i - n];
      if (c.lock.tryLock()) {
        h = c;
      }
    }
    if (h == null) {
      if (wait.isZero()) {
        // A read-miss fill or a quick write: never wait, not even for a writer that holds a head
        // while it waits for space on a full cache.
        return null;
      }
      h = heads[first];
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
