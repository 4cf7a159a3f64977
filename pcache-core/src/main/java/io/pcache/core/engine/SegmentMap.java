package io.pcache.core.engine;

import java.time.Duration;
import java.util.BitSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Which cache segments are in use (dm-pcache's {@code seg_map}), allocation with a rotating hint,
 * and the wait for space when the cache is full.
 *
 * <p>One segment is held back for the kset log: data allocation never takes the last free
 * segment, so the ksets that reference data already in the cache can always be closed. Without
 * the reserve, a cache filled with data whose keys sit in open ksets could never be written back
 * (writeback only sees closed ksets) and would never free anything.
 *
 * <p>Writers that find no free segment wait here (bounded by a timeout, counted in {@link
 * #waits()} and visible in {@link #waiting()}) until {@link #free} wakes them. Allocation is not
 * on the per-request path: a data segment serves about 4000 writes of 4 KiB.
 */
final class SegmentMap {

  private final int total;
  private final BitSet used;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition freed = lock.newCondition();
  private final LongAdder waits = new LongAdder();
  private final Runnable onPressure;
  private int usedCount;
  private int hint;
  private int waiting;

  /**
   * @param onPressure called (without the lock held) when a writer starts waiting for space, so
   *     GC can run at once
   */
  SegmentMap(int total, Runnable onPressure) {
    this.total = total;
    this.used = new BitSet(total);
    this.onPressure = onPressure;
  }

  int total() {
    return total;
  }

  int used() {
    lock.lock();
    try {
      return usedCount;
    } finally {
      lock.unlock();
    }
  }

  /** Writers currently waiting for a free segment. */
  int waiting() {
    lock.lock();
    try {
      return waiting;
    } finally {
      lock.unlock();
    }
  }

  /** How many times a writer had to wait for space. */
  long waits() {
    return waits.sum();
  }

  boolean isUsed(int id) {
    lock.lock();
    try {
      return used.get(id);
    } finally {
      lock.unlock();
    }
  }

  /** Marks a segment used (replay). */
  void markUsed(int id) {
    lock.lock();
    try {
      if (!used.get(id)) {
        used.set(id);
        usedCount++;
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Takes a free segment, first clear bit from the rotating hint (as {@code get_cache_segment}).
   *
   * @param reserve segments that must stay free after this allocation (1 for data, 0 for the log)
   * @return the segment id, or -1 when none is free
   */
  int tryAllocate(int reserve) {
    lock.lock();
    try {
      return allocateLocked(reserve);
    } finally {
      lock.unlock();
    }
  }

  private int allocateLocked(int reserve) {
    if (total - usedCount <= reserve) {
      return -1;
    }
    int id = used.nextClearBit(hint);
    if (id >= total) {
      id = used.nextClearBit(0);
    }
    used.set(id);
    usedCount++;
    hint = id;
    return id;
  }

  /**
   * Takes a free segment, waiting up to {@code timeout} for GC to free one.
   *
   * @return the segment id, or -1 when the wait timed out
   */
  int allocate(int reserve, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    lock.lock();
    try {
      int id = allocateLocked(reserve);
      if (id >= 0) {
        return id;
      }
      waits.increment();
      waiting++;
      try {
        while (true) {
          lock.unlock();
          try {
            onPressure.run();
          } finally {
            lock.lock();
          }
          id = allocateLocked(reserve);
          if (id >= 0) {
            return id;
          }
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            return -1;
          }
          freed.await(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)), TimeUnit.NANOSECONDS);
        }
      } finally {
        waiting--;
      }
    } finally {
      lock.unlock();
    }
  }

  /** Returns a segment to the free map and wakes every waiting writer. */
  void free(int id) {
    lock.lock();
    try {
      if (!used.get(id)) {
        throw new IllegalStateException("segment " + id + " freed twice");
      }
      used.clear(id);
      usedCount--;
      freed.signalAll();
    } finally {
      lock.unlock();
    }
  }
}
