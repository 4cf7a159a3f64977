package io.pcache.testkit;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Zeroed native memory for test devices, freed when unreachable (an automatic arena).
 *
 * <p>An automatic arena's memory is freed only after a garbage collection finds it unreachable,
 * and a test JVM whose heap stays small rarely collects: tests that each allocate a 512 MiB cache
 * piled up 24 GB of native memory and were killed by the kernel. So after every {@value #GC_EVERY}
 * bytes handed out, a collection is asked for, which frees the devices earlier tests dropped.
 */
final class NativeMemory {

  private static final long GC_EVERY = 1L << 30;
  private static final AtomicLong SINCE_GC = new AtomicLong();

  private NativeMemory() {}

  static MemorySegment allocate(long size, long alignment) {
    if (SINCE_GC.addAndGet(size) > GC_EVERY) {
      SINCE_GC.set(0);
      System.gc();
    }
    return Arena.ofAuto().allocate(size, alignment);
  }
}
