package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.BlockIOException;
import io.pcache.testkit.MemoryMedia;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * How many writes writeback keeps in flight: many on a device that makes it wait (a disk, a
 * network device), one on a device that keeps the CPU busy instead (memory, the page cache),
 * where helpers only contend. Either way the backing device ends up with every write.
 */
class WritebackWritersTest {

  /** Counts the writes in flight at once and the threads that wrote; optionally sleeps in each write. */
  static final class CountingBacking extends ForwardingBacking {
    final long sleepNanos;
    final AtomicInteger inFlight = new AtomicInteger();
    final AtomicInteger peak = new AtomicInteger();
    final Set<Thread> writers = ConcurrentHashMap.newKeySet();

    CountingBacking(Duration sleep) {
      super(64L << 20);
      this.sleepNanos = sleep.toNanos();
    }

    @Override
    public void write(long offset, MemorySegment src) throws BlockIOException {
      writers.add(Thread.currentThread());
      peak.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
      try {
        if (sleepNanos > 0) {
          java.util.concurrent.locks.LockSupport.parkNanos(sleepNanos);
        }
        inner.write(offset, src);
      } finally {
        inFlight.decrementAndGet();
      }
    }
  }

  /**
   * Writes {@code writes} separate 4 KiB blocks with writeback paused, then lets it drain them
   * (twice when {@code rounds} is 2: counters are reset in between, so the first round can warm up).
   */
  private static CountingBacking drainThrough(Duration sleep, int writes, int rounds) throws Exception {
    CountingBacking backing = new CountingBacking(sleep);
    EngineOptions options = EngineOptions.defaults().withWritebackInFlight(16);
    CacheEngine e = CacheEngine.open(MemoryMedia.allocate("mem:cache", 512L << 20), backing, options,
        new TestPolicy(70));
    try {
      for (int round = 0; round < rounds; round++) {
        backing.peak.set(0);
        backing.writers.clear();
        drainOnce(e, backing, writes, round);
      }
    } finally {
      e.close();
    }
    return backing;
  }

  private static void drainOnce(CacheEngine e, CountingBacking backing, int writes, int round) throws Exception {
    {
      e.writeback().pause();
      MemorySegment block = MemorySegment.ofArray(new byte[4096]);
      for (int i = 0; i < writes; i++) {
        block.fill((byte) (i + round | 1));
        e.write((long) i * 8192, block, false); // never adjacent: one backing write per key
      }
      long mark = e.drainMark();
      e.writeback().resume();
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (!e.writtenBack(mark)) {
        assertTrue(System.nanoTime() < deadline, "writeback did not drain in 60 s");
        Thread.sleep(5);
      }
      byte[] got = new byte[4096];
      for (int i = 0; i < writes; i++) {
        backing.inner.read((long) i * 8192, MemorySegment.ofArray(got));
        assertEquals((byte) (i + round | 1), got[0], "backing block " + i);
        assertEquals((byte) (i + round | 1), got[4095], "backing block " + i);
      }
    }
  }

  @Test
  void aDeviceThatWaitsGetsManyWritesInFlight() throws Exception {
    CountingBacking b = drainThrough(Duration.ofMillis(2), 400, 1);
    assertTrue(b.peak.get() >= 8, "at most " + b.peak.get() + " writes in flight on a 2 ms device");
  }

  @Test
  void aDeviceAsFastAsMemoryIsWrittenByOneThread() throws Exception {
    // The second round counts: in the first, writes of a cold JVM (class loading, the interpreter)
    // may look slow and bring helpers for a batch or two.
    CountingBacking b = drainThrough(Duration.ZERO, 4000, 2);
    assertEquals(1, b.peak.get(), "writes in flight on a memory device, by " + b.writers);
  }
}
