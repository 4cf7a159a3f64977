package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.PersistenceDomain;
import io.pcache.testkit.FaultyBacking;
import io.pcache.testkit.MemoryMedia;
import io.pcache.testkit.Seeds;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Several threads drive the engine with reads, writes, FUA writes, flushes, discards,
 * write-zeroes and prefetches at random 512-byte aligned offsets and lengths (from one sector to
 * 6 MiB, across 4 MiB stripes and segment ends), on a 512 MiB cache in front of a 128 MiB backing
 * device, and check every read against a reference. Each sector's content names the write that
 * produced it ({@link SectorTags}), so the reference is one tag per sector.
 *
 * <h2>Phases</h2>
 *
 * <ol>
 *   <li><b>Owned ranges.</b> The device is cut into 6 MiB blocks (not a multiple of 4 MiB, so
 *       neighbouring threads share stripes, kset buffers and data heads); each thread owns every
 *       fourth block. A thread's reads of its own blocks must return exactly what it wrote last.
 *   <li><b>Restart.</b> Clean close, reopen, replay; the whole device must read back exactly.
 *   <li><b>Shared range.</b> All threads work on the first 16 MiB at once. Each sector keeps a
 *       history of the writes to it with their start and end times on a global clock; a read
 *       must return, per sector, the data of a write that started before the read ended and was
 *       not overwritten by a write that started after it ended and itself ended before the read
 *       started (linearizable per sector). Afterwards the reference takes what a quiet read sees.
 *   <li><b>Owned ranges</b> again, then a drain: gc_percent 0, wait until key_head == dirty_tail ==
 *       key_tail, and the backing device must equal the reference byte for byte.
 * </ol>
 *
 * A chaos thread meanwhile changes gc_percent (0 to 90), pauses writeback, throttles it and slows
 * the backing device, so that the cache fills up, writes wait for space and GC frees and reuses
 * segments many times (a 512 MiB cache has 31 segments; the run writes about 3 GiB of data). The test
 * checks that GC freed segments and that writes waited.
 *
 * <p>Data CRCs are on or off for the run; each start picks the number of ksets and data heads,
 * the writeback batch and its parallelism, and whether the media is reported as DAX-like or as a
 * page-cache file (data persists deferred to the next kset).
 *
 * <p>The seed is printed; {@code -Dpcache.test.seed=N} replays the same operations per thread (the
 * interleaving differs). {@code -Dpcache.test.long=true} writes 10 times more.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class EngineModelTest {

  static final long MEDIA_SIZE = 512L << 20;
  static final long BACKING_SIZE = 128L << 20;
  static final int SECTOR = SectorTags.SECTOR;
  static final int SECTORS = (int) (BACKING_SIZE / SECTOR);
  static final int THREADS = 4;
  static final int BLOCK = 12288; // 6 MiB in sectors
  static final int BLOCKS = (SECTORS + BLOCK - 1) / BLOCK;
  static final int SHARED = 32768; // the first 16 MiB
  static final boolean LONG = Boolean.getBoolean("pcache.test.long");
  static final long GIB = 1L << 30;

  @Test
  void concurrentWorkloadMatchesTheReference() throws Exception {
    SplittableRandom master = Seeds.random("EngineModelTest.concurrentWorkloadMatchesTheReference");
    try (Arena arena = Arena.ofShared()) {
      new Run(master, arena).run();
    }
  }

  /** A write in a sector's history, with its start and end on the run's clock. */
  static final class Op {
    final long tag;
    final long start;
    volatile long end = Long.MAX_VALUE;

    Op(long tag, long start) {
      this.tag = tag;
      this.start = start;
    }

    @Override
    public String toString() {
      return "tag " + tag + " [" + start + ", " + (end == Long.MAX_VALUE ? "running" : end) + "]";
    }
  }

  static final class Run {

    final SplittableRandom master;
    final boolean dataCrc;
    final MemoryMedia media;
    final AtomicMemoryBacking memory;
    final FaultyBacking backing;
    final TestPolicy policy = new TestPolicy(50);
    volatile CacheEngine engine;
    final long[] ref = new long[SECTORS];
    /** Bytes written, discarded or zeroed; data writes alone in {@link #dataWritten}. */
    final AtomicLong written = new AtomicLong();
    final AtomicLong dataWritten = new AtomicLong();
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    volatile boolean stop;

    // Shared phase.
    final AtomicLong clock = new AtomicLong(1);
    @SuppressWarnings({"unchecked", "rawtypes"})
    final List<Op>[] history = new List[SHARED];
    final AtomicLongArray readStarts = new AtomicLongArray(THREADS);

    // Totals over every engine of the run.
    long gcFreed;
    long fullWaits;
    long staleHits;
    final Map<String, Long> ops = new TreeMap<>();
    final long started = System.nanoTime();

    Run(SplittableRandom master, Arena arena) {
      this.master = master;
      this.dataCrc = master.nextBoolean();
      this.media = new MemoryMedia("mem:cache", arena.allocate(MEDIA_SIZE, 4096));
      this.memory = new AtomicMemoryBacking("mem:backing", arena.allocate(BACKING_SIZE, 4096));
      this.backing = new FaultyBacking(memory, master.split());
    }

    EngineOptions options() {
      return new EngineOptions(dataCrc, Duration.ofMillis(30), 1 + master.nextInt(THREADS + 2), Duration.ofSeconds(120),
          1 + master.nextInt(16), 1 + master.nextInt(32), 0, Duration.ofMillis(50), false,
          master.nextInt(3) == 0 ? 40 : 0); // a third of the runs hold dirty data back while busy
    }

    /** The media as DAX or as a page-cache file (the engine then defers data persists to kset closes). */
    CacheMedia mediaView() {
      MemoryMedia m = media.reopen();
      PersistenceDomain d = master.nextBoolean() ? PersistenceDomain.PAGE_CACHE : PersistenceDomain.VOLATILE;
      return new CacheMedia() {
        @Override
        public String name() {
          return m.name();
        }

        @Override
        public long size() {
          return m.size();
        }

        @Override
        public PersistenceDomain persistenceDomain() {
          return d;
        }

        @Override
        public void read(long offset, MemorySegment dst) {
          m.read(offset, dst);
        }

        @Override
        public void write(long offset, MemorySegment src) {
          m.write(offset, src);
        }

        @Override
        public void persist(long offset, long length) {
          m.persist(offset, length);
        }

        @Override
        public MemorySegment mapping() {
          return m.mapping();
        }

        @Override
        public void close() {
          m.close();
        }
      };
    }

    void run() throws Exception {
      SectorTags.fill(memory.memory(), 0, 1, 0, SECTORS);
      java.util.Arrays.fill(ref, 1);
      engine = CacheEngine.open(mediaView(), backing, options(), policy);
      System.out.println("EngineModelTest: data_crc " + dataCrc + ", " + engine.media.persistenceDomain() + ", "
          + engine.options);
      long budget = LONG ? 40 * GIB : 4 * GIB;
      phase("owned", budget * 2 / 5, this::ownedOp);
      restart();
      checkAll("after restart");
      initShared();
      phase("shared", budget / 5, this::sharedOp);
      settleShared();
      phase("owned again", budget * 2 / 5, this::ownedOp);
      drainAndCompare();
      account();
      engine.close();
      String summary = "EngineModelTest: " + (dataWritten.get() >> 20) + " MiB of data written ("
          + (written.get() >> 20) + " MiB with discards and write-zeroes) in "
          + (System.nanoTime() - started) / 1_000_000 + " ms; GC freed " + gcFreed + " segments, writes waited "
          + fullWaits + " times, " + staleHits + " stale hits; ops " + ops;
      System.out.println(summary);
      assertTrue(gcFreed > 0, "GC never freed a segment: " + summary);
      assertTrue(fullWaits > 0, "no write ever waited for space: " + summary);
      assertTrue(written.get() >= budget, summary);
    }

    void account() {
      gcFreed += engine.stats().gcSegmentsFreed.sum();
      fullWaits += engine.segments.map().waits();
      staleHits += engine.stats().staleHits.sum();
    }

    void restart() throws Exception {
      account();
      engine.close();
      engine = CacheEngine.open(mediaView(), backing, options(), policy);
      System.out.println("EngineModelTest: restarted (" + engine.media.persistenceDomain() + ", " + engine.options + "), "
          + engine.replayReport() + " " + engine.positions());
    }

    // -------------------------------------------------------------------------------------------
    // Phases

    interface Body {
      void op(int thread, SplittableRandom r, MemorySegment buf) throws Exception;
    }

    void phase(String name, long bytes, Body body) throws Exception {
      long target = written.get() + bytes;
      stop = false;
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        int thread = t;
        SplittableRandom r = master.split();
        threads.add(Thread.ofPlatform().name("model-" + name + "-" + t).start(() -> {
          MemorySegment buf = Arena.ofAuto().allocate((long) BLOCK * SECTOR, 4096);
          try {
            while (!stop && written.get() < target && failure.get() == null) {
              body.op(thread, r, buf);
            }
          } catch (Throwable e) {
            failure.compareAndSet(null, e);
          }
        }));
      }
      SplittableRandom cr = master.split();
      Thread chaos = Thread.ofPlatform().name("model-chaos").start(() -> {
        try {
          chaos(cr, threads);
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        }
      });
      for (Thread t : threads) {
        t.join();
      }
      stop = true;
      chaos.join();
      quiet();
      Throwable f = failure.get();
      if (f != null) {
        if (f instanceof AssertionError a) {
          throw a;
        }
        throw new AssertionError("phase '" + name + "' failed: " + f + state(), f);
      }
      System.out.println("EngineModelTest: phase '" + name + "' done at " + (written.get() >> 20) + " MiB, "
          + engine.positions() + ", waits " + engine.segments.map().waits() + ", freed "
          + engine.stats().gcSegmentsFreed.sum());
    }

    /** Turns every disturbance off. */
    void quiet() {
      backing.clearFaults();
      engine.writeback().setRate(0);
      engine.writeback().resume();
    }

    void chaos(SplittableRandom r, List<Thread> workers) throws Exception {
      while (!stop && workers.stream().anyMatch(Thread::isAlive)) {
        switch (r.nextInt(6)) {
          case 0, 1 -> engine.setGcPercent(new int[] {0, 5, 10, 30, 50, 70, 90}[r.nextInt(7)]);
          case 2 -> {
            // Writeback stops: the cache fills up and writers wait for space (half the time the
            // pause lasts until a writer does wait, whatever the speed of this machine).
            engine.writeback().pause();
            if (r.nextBoolean()) {
              long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
              while (!stop && engine.segments.map().waiting() == 0 && System.nanoTime() < until) {
                Thread.sleep(2);
              }
              sleep(r.nextInt(100));
            } else {
              sleep(200 + r.nextInt(1500));
            }
            engine.writeback().resume();
          }
          case 3 -> {
            engine.writeback().setRate((16 + r.nextInt(64)) << 20);
            sleep(100 + r.nextInt(200));
            engine.writeback().setRate(0);
          }
          case 4 -> {
            backing.delay(FaultyBacking.Op.WRITE, Duration.ofMillis(1 + r.nextInt(3)));
            sleep(100 + r.nextInt(200));
            backing.delay(FaultyBacking.Op.WRITE, Duration.ZERO);
          }
          default -> sleep(20 + r.nextInt(100));
        }
      }
      quiet();
    }

    void sleep(long ms) throws InterruptedException {
      long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
      while (!stop && System.nanoTime() < until) {
        Thread.sleep(5);
      }
    }

    void count(String op) {
      synchronized (ops) {
        ops.merge(op, 1L, Long::sum);
      }
    }

    String state() {
      CacheEngine e = engine;
      return "\n  engine: " + e.positions() + "\n  status: " + e.statusLine() + "\n  counters: " + e.counters()
          + "\n  backing: " + backing.counters();
    }

    static long tagFor(int thread, long n) {
      return ((long) (thread + 2) << 48) + n;
    }

    // -------------------------------------------------------------------------------------------
    // Owned ranges

    int length(SplittableRandom r, int max) {
      int c = r.nextInt(100);
      int n;
      if (c < 50) {
        n = 1 + r.nextInt(16);
      } else if (c < 80) {
        n = 1 + r.nextInt(512);
      } else if (c < 95) {
        n = 1 + r.nextInt(4096);
      } else {
        n = 1 + r.nextInt(max);
      }
      return Math.min(n, max);
    }

    final AtomicLongArray tagCounters = new AtomicLongArray(THREADS);

    void ownedOp(int t, SplittableRandom r, MemorySegment buf) throws Exception {
      int owned = (BLOCKS - t + THREADS - 1) / THREADS;
      int block = t + THREADS * r.nextInt(owned);
      int blockFirst = block * BLOCK;
      int blockLen = Math.min(BLOCK, SECTORS - blockFirst);
      int n = length(r, blockLen);
      int first = blockFirst + r.nextInt(blockLen - n + 1);
      if (r.nextInt(5) == 0) {
        // Around a stripe boundary inside the block.
        int boundary = (blockFirst / 8192 + 1) * 8192;
        if (boundary < blockFirst + blockLen) {
          first = Math.max(blockFirst, Math.min(boundary - 1 - r.nextInt(Math.min(n, 64)), blockFirst + blockLen - n));
        }
      }
      long off = (long) first * SECTOR;
      long len = (long) n * SECTOR;
      int k = r.nextInt(100);
      if (k < 43) {
        boolean fua = k >= 35;
        long tag = tagFor(t, tagCounters.incrementAndGet(t));
        SectorTags.fill(buf, 0, tag, first, n);
        TryPaths.write(engine, off, buf.asSlice(0, len), fua, r.nextBoolean());
        java.util.Arrays.fill(ref, first, first + n, tag);
        written.addAndGet(len);
        dataWritten.addAndGet(len);
        count(fua ? "write_fua" : "write");
      } else if (k < 46) {
        buf.asSlice(0, len).fill((byte) 0);
        engine.write(off, buf.asSlice(0, len), r.nextBoolean());
        java.util.Arrays.fill(ref, first, first + n, 0);
        written.addAndGet(len);
        count("write_zero_data");
      } else if (k < 76) {
        TryPaths.read(engine, off, buf.asSlice(0, len), r.nextBoolean());
        for (int i = 0; i < n; i++) {
          long got = SectorTags.tagOf(buf, (long) i * SECTOR, first + i);
          if (got != ref[first + i]) {
            throw new AssertionError("thread " + t + ": sector " + (first + i) + " (read " + first + "+" + n
                + ") returns " + (got == SectorTags.GARBAGE ? "garbage " + SectorTags.describe(buf, (long) i * SECTOR)
                : "write " + Long.toHexString(got)) + " but the thread wrote " + Long.toHexString(ref[first + i])
                + " there last" + keysAt(first + i) + state());
          }
        }
        count("read");
      } else if (k < 80) {
        TryPaths.flush(engine, r.nextBoolean());
        count("flush");
      } else if (k < 86) {
        engine.discard(off, len);
        java.util.Arrays.fill(ref, first, first + n, 0);
        written.addAndGet(len);
        count("discard");
      } else if (k < 92) {
        engine.writeZeroes(off, len, r.nextBoolean());
        java.util.Arrays.fill(ref, first, first + n, 0);
        written.addAndGet(len);
        count("write_zeroes");
      } else {
        engine.prefetch(off, len);
        count("prefetch");
      }
    }

    String keysAt(int sector) {
      Stripe s = engine.index.stripe((long) sector * SECTOR);
      s.lock.lock();
      try {
        StringBuilder b = new StringBuilder("\n  keys near it:");
        long at = (long) sector * SECTOR;
        for (CacheKey k : s.all()) {
          if (k.end() > at - (64 << 10) && k.off < at + (64 << 10)) {
            b.append(' ').append(k);
          }
        }
        return b.toString();
      } finally {
        s.lock.unlock();
      }
    }

    void checkAll(String when) throws Exception {
      MemorySegment buf = Arena.ofAuto().allocate(4L << 20, 4096);
      for (int first = 0; first < SECTORS; first += 8192) {
        engine.read((long) first * SECTOR, buf);
        for (int i = 0; i < 8192; i++) {
          long got = SectorTags.tagOf(buf, (long) i * SECTOR, first + i);
          if (got != ref[first + i]) {
            throw new AssertionError(when + ": sector " + (first + i) + " returns " + Long.toHexString(got)
                + " but the reference has " + Long.toHexString(ref[first + i]) + keysAt(first + i) + state());
          }
        }
      }
    }

    // -------------------------------------------------------------------------------------------
    // Shared range

    void sharedOp(int t, SplittableRandom r, MemorySegment buf) throws Exception {
      int n = r.nextInt(10) < 8 ? 1 + r.nextInt(64) : 1 + r.nextInt(2048);
      int first = r.nextInt(SHARED - n + 1);
      long off = (long) first * SECTOR;
      long len = (long) n * SECTOR;
      int k = r.nextInt(100);
      if (k < 40) {
        boolean zero = k >= 37;
        long tag = zero ? 0 : tagFor(t, tagCounters.incrementAndGet(t));
        SectorTags.fill(buf, 0, tag, first, n);
        Op op = begin(tag, first, n);
        engine.write(off, buf.asSlice(0, len), k >= 32 && k < 37);
        op.end = clock.incrementAndGet();
        written.addAndGet(len);
        dataWritten.addAndGet(len);
        count("shared_write");
      } else if (k < 50) {
        Op op = begin(0, first, n);
        if (k < 45) {
          engine.discard(off, len);
        } else {
          engine.writeZeroes(off, len, k % 2 == 0);
        }
        op.end = clock.incrementAndGet();
        written.addAndGet(len);
        count("shared_zero");
      } else if (k < 54) {
        engine.flush();
        count("shared_flush");
      } else if (k < 56) {
        engine.prefetch(off, len);
        count("shared_prefetch");
      } else {
        long rs = clock.incrementAndGet();
        readStarts.set(t, rs);
        try {
          engine.read(off, buf.asSlice(0, len));
          long re = clock.incrementAndGet();
          for (int i = 0; i < n; i++) {
            checkShared(first + i, SectorTags.tagOf(buf, (long) i * SECTOR, first + i), rs, re, buf, i);
          }
        } finally {
          readStarts.set(t, Long.MAX_VALUE);
        }
        count("shared_read");
      }
    }

    /** Every shared sector starts with its current reference value as a write that ended at time 0. */
    void initShared() {
      for (int s = 0; s < SHARED; s++) {
        Op initial = new Op(ref[s], 0);
        initial.end = 0;
        List<Op> h = new ArrayList<>(4);
        h.add(initial);
        history[s] = h;
      }
    }

    Op begin(long tag, int first, int n) {
      Op op = new Op(tag, clock.incrementAndGet());
      for (int s = first; s < first + n; s++) {
        List<Op> h = history[s];
        synchronized (h) {
          if (h.size() > 6) {
            prune(h);
          }
          h.add(op);
        }
      }
      return op;
    }

    /** Drops writes that no read running now or later may return (see the class comment). */
    void prune(List<Op> h) {
      long minRead = clock.get();
      for (int t = 0; t < THREADS; t++) {
        minRead = Math.min(minRead, readStarts.get(t));
      }
      long bound = minRead;
      h.removeIf(x -> overwritten(x, h, bound));
    }

    static boolean overwritten(Op x, List<Op> h, long before) {
      long xEnd = x.end;
      if (xEnd == Long.MAX_VALUE) {
        return false;
      }
      for (Op w : h) {
        if (w != x && xEnd < w.start && w.end < before) {
          return true;
        }
      }
      return false;
    }

    void checkShared(int s, long tag, long rs, long re, MemorySegment buf, int i) {
      List<Op> h = history[s];
      synchronized (h) {
        if (tag != SectorTags.GARBAGE) {
          for (Op x : h) {
            if (x.tag == tag && x.start < re && !overwritten(x, h, rs)) {
              return;
            }
          }
        }
        throw new AssertionError("shared sector " + s + " read during [" + rs + ", " + re + "] returns "
            + (tag == SectorTags.GARBAGE ? "garbage " + SectorTags.describe(buf, (long) i * SECTOR)
            : "write " + Long.toHexString(tag)) + ", which no write that could be seen then wrote; history "
            + h + keysAt(s) + state());
      }
    }

    /** After the shared phase: what a quiet read sees must be a last write of each sector; it becomes the reference. */
    void settleShared() throws Exception {
      MemorySegment buf = Arena.ofAuto().allocate(1L << 20, 4096);
      int per = (int) (buf.byteSize() / SECTOR);
      for (int first = 0; first < SHARED; first += per) {
        long rs = clock.incrementAndGet();
        engine.read((long) first * SECTOR, buf);
        long re = clock.incrementAndGet();
        for (int i = 0; i < per; i++) {
          long tag = SectorTags.tagOf(buf, (long) i * SECTOR, first + i);
          checkShared(first + i, tag, rs, re, buf, i);
          ref[first + i] = tag;
        }
      }
      java.util.Arrays.fill(history, null);
    }

    // -------------------------------------------------------------------------------------------
    // Drain

    void drainAndCompare() throws Exception {
      quiet();
      engine.setGcPercent(0);
      engine.flush();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (System.nanoTime() < deadline
          && !(engine.clean() && engine.log.keyTail().equals(engine.log.dirtyTail()))) {
        Thread.sleep(10);
      }
      if (!engine.clean() || !engine.log.keyTail().equals(engine.log.dirtyTail())) {
        throw new AssertionError("the cache does not drain" + state());
      }
      MemorySegment image = memory.memory();
      for (int s = 0; s < SECTORS; s++) {
        long tag = SectorTags.tagOf(image, (long) s * SECTOR, s);
        if (tag != ref[s]) {
          throw new AssertionError("after draining, backing sector " + s + " holds " + Long.toHexString(tag)
              + " but the reference has " + Long.toHexString(ref[s]) + state());
        }
      }
      checkAll("after the drain");
    }
  }
}
