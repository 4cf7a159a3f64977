package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.testkit.MemoryMedia;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Writeback through the engine, with batches that skip superseded keys and merge adjacent ones:
 * at every flush of the backing device its content must be the state after some prefix of the
 * writes, never going back, and after writeback drained it must hold the last write of every
 * byte. One kset buffer and one writer thread, so that log order is the order of the writes.
 */
class WritebackPrefixTest {

  static final int SECTOR = 512;
  static final long BACKING = 8L << 20;
  static final int SECTORS = (int) (BACKING / SECTOR);

  /** One write of the history; {@code data} null for write-zeroes. */
  record Write(long off, byte[] data, int len) {}

  /** A backing device that checks, at every flush, that it holds a prefix state of the history. */
  static final class PrefixCheckingBacking extends ForwardingBacking {
    final List<Write> history = new ArrayList<>();
    final byte[] model = new byte[(int) BACKING];
    final boolean[] differs = new boolean[SECTORS];
    int differing;
    int applied;
    int flushes;
    int maxAppliedStep;
    volatile String failure;

    PrefixCheckingBacking() {
      super(BACKING);
    }

    synchronized void record(Write w) {
      history.add(w);
    }

    private boolean sectorDiffers(int s) {
      return MemorySegment.mismatch(inner.memory(), (long) s * SECTOR, (long) (s + 1) * SECTOR,
          MemorySegment.ofArray(model), (long) s * SECTOR, (long) (s + 1) * SECTOR) >= 0;
    }

    private void refresh(int from, int to) {
      for (int s = from; s < to; s++) {
        boolean d = sectorDiffers(s);
        if (d != differs[s]) {
          differs[s] = d;
          differing += d ? 1 : -1;
        }
      }
    }

    @Override
    public synchronized void flush() {
      flushes++;
      refresh(0, SECTORS);
      int before = applied;
      // States of distinct prefixes differ (every write carries its own number), so the first
      // prefix that matches is the only one.
      while (differing > 0 && applied < history.size()) {
        Write w = history.get(applied++);
        if (w.data() == null) {
          java.util.Arrays.fill(model, (int) w.off(), (int) w.off() + w.len(), (byte) 0);
        } else {
          System.arraycopy(w.data(), 0, model, (int) w.off(), w.len());
        }
        refresh((int) (w.off() / SECTOR), (int) ((w.off() + w.len()) / SECTOR));
      }
      maxAppliedStep = Math.max(maxAppliedStep, applied - before);
      if (differing > 0 && failure == null) {
        int s = 0;
        while (!differs[s]) {
          s++;
        }
        failure = "flush " + flushes + ": the backing device holds no prefix state of the " + history.size()
            + " writes from write " + before + " on (first differing sector " + s + ")";
      }
    }
  }

  @Test
  void everyFlushShowsAPrefixAndTheLastWriteWins() throws Exception {
    MemoryMedia media = MemoryMedia.allocate("mem:cache", 512L << 20);
    PrefixCheckingBacking backing = new PrefixCheckingBacking();
    EngineOptions options = new EngineOptions(false, Duration.ofMillis(50), 1, Duration.ofSeconds(60), 16, 8, 0,
        Duration.ofMillis(100), false);
    CacheEngine e = CacheEngine.open(media, backing, options, new TestPolicy(70));
    SplittableRandom r = new SplittableRandom(7);
    int seq = 0;
    long prevEnd = 0;
    List<Long> recent = new ArrayList<>();
    for (int phase = 0; phase < 12; phase++) {
      if (phase % 2 == 0) {
        e.writeback().pause(); // let ksets pile up: the next batches are full, with overlaps inside
      }
      for (int i = 0; i < 700; i++) {
        int sectors = r.nextInt(4) == 0 ? 1 + r.nextInt(24) : 8;
        int len = sectors * SECTOR;
        long off;
        int pick = r.nextInt(10);
        if (pick < 3 && prevEnd + len <= BACKING) {
          off = prevEnd; // sequential
        } else if (pick < 6 && !recent.isEmpty()) {
          off = Math.min(recent.get(r.nextInt(recent.size())), BACKING - len); // again, or overlapping
        } else {
          off = r.nextLong(SECTORS - sectors + 1) * SECTOR;
        }
        prevEnd = off + len;
        recent.add(off);
        if (recent.size() > 64) {
          recent.remove(0);
        }
        if (r.nextInt(50) == 0) {
          backing.record(new Write(off, null, len));
          e.writeZeroes(off, len, false);
        } else {
          byte[] data = new byte[len];
          r.nextBytes(data);
          seq++;
          for (int s = 0; s < sectors; s++) {
            // Every sector carries the write's number: no two prefix states are equal.
            MemorySegment.ofArray(data).set(ValueLayout.JAVA_INT_UNALIGNED, (long) s * SECTOR, seq);
          }
          backing.record(new Write(off, data, len));
          e.write(off, MemorySegment.ofArray(data), false);
        }
        if (r.nextInt(300) == 0) {
          e.flush();
        }
      }
      e.writeback().resume();
    }
    e.flush();
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!e.clean() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertTrue(e.clean(), e.positions());
    e.close();
    assertEquals(null, backing.failure);
    assertTrue(backing.flushes > 3, "only " + backing.flushes + " flushes");
    assertTrue(backing.maxAppliedStep > 128, "no batch spanned more than one kset: " + backing.maxAppliedStep);
    // After the drain: the last write of every byte.
    backing.flush();
    assertEquals(null, backing.failure);
    assertEquals(backing.history.size(), backing.applied, "writeback did not reach the last write");
    assertEquals(-1, MemorySegment.mismatch(backing.inner.memory(), 0, BACKING, MemorySegment.ofArray(backing.model), 0,
        BACKING));
  }
}
