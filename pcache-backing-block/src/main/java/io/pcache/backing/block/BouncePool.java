package io.pcache.backing.block;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Native, page-aligned buffers for data that cannot go to the kernel where it is: heap segments
 * (no stable address) and, with O_DIRECT, memory whose address is not aligned as the file needs.
 *
 * <p>Up to {@link #KEEP} buffers of {@link #CHUNK} bytes are kept for reuse; more are allocated
 * when many requests bounce at once and left to the garbage collector afterwards ({@link
 * Arena#ofAuto()}), so a request never waits for a buffer. Lock-free.
 */
final class BouncePool {

  /** The size of a buffer; larger requests bounce chunk by chunk. A multiple of every block size. */
  static final int CHUNK = 256 * 1024;

  /** Page alignment: enough for O_DIRECT on every Linux file system and device. */
  static final int ALIGNMENT = 4096;

  private static final int KEEP = 16;

  private final ConcurrentLinkedQueue<MemorySegment> free = new ConcurrentLinkedQueue<>();
  private final AtomicInteger kept = new AtomicInteger();

  /** A buffer of {@link #CHUNK} bytes; give it back with {@link #release}. */
  MemorySegment acquire() {
    MemorySegment buffer = free.poll();
    if (buffer != null) {
      kept.decrementAndGet();
      return buffer;
    }
    return Arena.ofAuto().allocate(CHUNK, ALIGNMENT);
  }

  /** Returns a buffer from {@link #acquire()}. */
  void release(MemorySegment buffer) {
    if (kept.incrementAndGet() <= KEEP) {
      free.offer(buffer);
    } else {
      kept.decrementAndGet();
    }
  }
}
