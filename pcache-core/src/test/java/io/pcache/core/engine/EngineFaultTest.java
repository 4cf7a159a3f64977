package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.BlockIOException;
import io.pcache.testkit.FaultyBacking;
import io.pcache.testkit.FaultyBacking.Op;
import io.pcache.testkit.MemoryMedia;
import io.pcache.testkit.Seeds;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The engine over a backing device that fails and stalls ({@link FaultyBacking}): writeback must
 * keep dirty_tail where it is while writes or flushes fail, retry with back-off, and lose or
 * reorder nothing (failed writes leave garbage on the device, which the retry must cover); a read
 * miss that fails returns EIO and caches nothing (failed reads leave garbage in the buffer); a
 * slow backing device does not slow down I/O the cache serves; a full cache whose writeback
 * cannot make progress fails writes with EIO after the configured wait, and recovers.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class EngineFaultTest {

  static final int SECTOR = SectorTags.SECTOR;
  static final long BACKING = 64L << 20;
  static final int SECTORS = (int) (BACKING / SECTOR);

  private final List<CacheEngine> engines = new ArrayList<>();
  private final Arena arena = Arena.ofShared();

  @AfterEach
  void closeAll() throws Exception {
    for (CacheEngine e : engines) {
      e.close();
    }
    arena.close();
  }

  /** A cache over a 64 MiB in-memory device (every sector holding tag 1) behind a {@link FaultyBacking}. */
  final class Fixture {
    final AtomicMemoryBacking memory = new AtomicMemoryBacking("mem:backing", arena.allocate(BACKING, 4096));
    final FaultyBacking backing;
    final CacheEngine engine;
    final long[] ref = new long[SECTORS];
    final MemorySegment buf = arena.allocate(4L << 20, 4096);
    long nextTag = 2;

    Fixture(SplittableRandom r, Duration fullWait) throws Exception {
      SectorTags.fill(memory.memory(), 0, 1, 0, SECTORS);
      Arrays.fill(ref, 1);
      backing = new FaultyBacking(memory, r.split());
      MemoryMedia media = new MemoryMedia("mem:cache", arena.allocate(512L << 20, 4096));
      engine = CacheEngine.open(media, backing, new EngineOptions(false, Duration.ofMillis(10), 2, fullWait, 4, 8, 0,
          Duration.ofMillis(20), false), new TestPolicy(50));
      engines.add(engine);
    }

    void write(int first, int n, boolean fua) throws BlockIOException {
      long tag = nextTag++;
      SectorTags.fill(buf, 0, tag, first, n);
      engine.write((long) first * SECTOR, buf.asSlice(0, (long) n * SECTOR), fua);
      Arrays.fill(ref, first, first + n, tag);
    }

    /** A random write, FUA write, discard, write-zeroes or read (checked), single-threaded. */
    void randomOp(SplittableRandom r) throws BlockIOException {
      int n = r.nextInt(4) == 0 ? 1 + r.nextInt(8192) : 1 + r.nextInt(64);
      int first = r.nextInt(SECTORS - n + 1);
      switch (r.nextInt(6)) {
        case 0, 1 -> write(first, n, false);
        case 2 -> write(first, n, true);
        case 3 -> {
          engine.discard((long) first * SECTOR, (long) n * SECTOR);
          Arrays.fill(ref, first, first + n, 0);
        }
        case 4 -> {
          engine.writeZeroes((long) first * SECTOR, (long) n * SECTOR, r.nextBoolean());
          Arrays.fill(ref, first, first + n, 0);
        }
        default -> check(first, n);
      }
    }

    void check(int first, int n) throws BlockIOException {
      MemorySegment dst = buf.asSlice(0, (long) n * SECTOR);
      engine.read((long) first * SECTOR, dst);
      for (int i = 0; i < n; i++) {
        long got = SectorTags.tagOf(dst, (long) i * SECTOR, first + i);
        assertEquals(ref[first + i], got, "sector " + (first + i) + " " + SectorTags.describe(dst, (long) i * SECTOR)
            + "; " + engine.positions() + " " + backing.counters());
      }
    }

    void checkAll() throws BlockIOException {
      for (int first = 0; first < SECTORS; first += 8192) {
        check(first, 8192);
      }
    }

    /** gc_percent 0, then flush (which also wakes writeback from its back-off) until everything is written back and reclaimed. */
    void drain() throws Exception {
      engine.setGcPercent(0);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (System.nanoTime() < deadline && !(engine.clean() && engine.log.keyTail().equals(engine.log.dirtyTail()))) {
        engine.flush();
        Thread.sleep(20);
      }
      assertTrue(engine.clean() && engine.log.keyTail().equals(engine.log.dirtyTail()), "no drain: " + engine.positions()
          + " " + backing.counters() + " last writeback error: " + engine.writeback().lastError());
    }

    /** The backing device holds exactly the reference. */
    void backingEqualsReference() {
      for (int s = 0; s < SECTORS; s++) {
        long got = SectorTags.tagOf(memory.memory(), (long) s * SECTOR, s);
        if (got != ref[s]) {
          throw new AssertionError("backing sector " + s + " holds " + got + " (" + SectorTags.describe(memory.memory(),
              (long) s * SECTOR) + ") but the reference has " + ref[s] + "; " + backing.counters());
        }
      }
    }

    void noPlaceholders() {
      for (int i = 0; i < engine.index.stripeCount(); i++) {
        Stripe s = engine.index.stripeAt(i);
        if (s == null) {
          continue;
        }
        s.lock.lock();
        try {
          for (CacheKey k : s.all()) {
            assertTrue(!k.empty(), "a read-miss placeholder was left behind: " + k);
          }
        } finally {
          s.lock.unlock();
        }
      }
    }
  }

  static void awaitClean(CacheEngine e) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!e.clean() && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertTrue(e.clean(), e.positions());
  }

  @Test
  void failingWritebackKeepsDirtyTailRetriesWithBackOffAndLosesNothing() throws Exception {
    SplittableRandom r = Seeds.random("EngineFaultTest.failingWritebackKeepsDirtyTailRetriesWithBackOffAndLosesNothing");
    Fixture f = new Fixture(r, Duration.ofSeconds(60));
    f.backing.tearFailedWrites(true);
    for (int i = 0; i < 40; i++) {
      f.randomOp(r);
    }
    f.engine.flush();
    awaitClean(f.engine);
    LogPos dirtyTail = f.engine.log.dirtyTail();

    // Every backing write fails (and leaves garbage): dirty_tail stays, attempts back off.
    f.backing.failAlways(Op.WRITE, true).failAlways(Op.WRITE_ZEROES, true);
    long errorsBefore = f.engine.stats().writebackErrors.sum();
    for (int i = 0; i < 60; i++) {
      f.randomOp(r);
    }
    f.engine.flush();
    // dirty_tail may pass ksets that hold only clean keys (read-miss fills need no backing write,
    // only the flush, which works here); it must never pass a dirty byte.
    long passedDirty = f.engine.writeback().passedDirtyBytes();
    long start = System.nanoTime();
    while (System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(1600)) {
      assertEquals(passedDirty, f.engine.writeback().passedDirtyBytes(),
          "dirty_tail passed dirty data although every backing write failed (dirty_tail " + f.engine.log.dirtyTail()
              + ", was " + dirtyTail + ")");
      f.check(r.nextInt(SECTORS - 64), 64); // the cache still serves the data
      Thread.sleep(50);
    }
    long attempts = f.engine.stats().writebackErrors.sum() - errorsBefore;
    assertTrue(attempts >= 2 && attempts <= 9, "writeback should retry with back-off (100, 200, 400, 800 ms ...), "
        + "but failed " + attempts + " batches in 1.6 s");
    assertTrue(f.engine.writeback().lastError() != null);
    assertTrue(f.backing.failures(Op.WRITE) + f.backing.failures(Op.WRITE_ZEROES) > 0);

    // Writes succeed but the flush fails: dirty_tail must not move either.
    LogPos stuck = f.engine.log.dirtyTail(); // at the first kset with dirty data
    f.backing.clearFaults().failAlways(Op.FLUSH, true);
    long flushFailures = f.backing.failures(Op.FLUSH);
    f.engine.flush(); // wakes writeback
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (f.backing.failures(Op.FLUSH) == flushFailures && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertTrue(f.backing.failures(Op.FLUSH) > flushFailures, "writeback never tried to flush");
    assertEquals(stuck, f.engine.log.dirtyTail(), "dirty_tail moved although the backing flush failed");
    assertEquals(passedDirty, f.engine.writeback().passedDirtyBytes(), "dirty data passed although the flush failed");

    // Random failures of writes, write-zeroes and flushes while the workload goes on (a batch is
    // retried as a whole, so it succeeds only when all its writes do: keep the rate low).
    f.backing.clearFaults().failWithProbability(Op.WRITE, 0.05).failWithProbability(Op.WRITE_ZEROES, 0.05)
        .failWithProbability(Op.FLUSH, 0.1);
    for (int i = 0; i < 300; i++) {
      f.randomOp(r);
      if (i % 30 == 0) {
        f.engine.setGcPercent(r.nextInt(3) * 30);
        Thread.sleep(10);
      }
    }
    f.backing.clearFaults();
    f.drain();
    f.backingEqualsReference();
    f.checkAll();
    assertTrue(f.engine.stats().writebackErrors.sum() > attempts, f.engine.counters().toString());
  }

  @Test
  void aFailedReadMissReturnsEioAndCachesNothing() throws Exception {
    SplittableRandom r = Seeds.random("EngineFaultTest.aFailedReadMissReturnsEioAndCachesNothing");
    Fixture f = new Fixture(r, Duration.ofSeconds(60));
    f.backing.scribbleFailedReads(true);
    int first = 16384; // 8 MiB
    int n = 2048; // 1 MiB
    f.backing.failRange(Op.READ, (long) (first + 512) * SECTOR, 4096);
    BlockIOException e = assertThrows(BlockIOException.class, () -> f.check(first, n));
    assertEquals(BlockIOException.Errno.EIO, e.errno());
    f.noPlaceholders();
    assertEquals(0, f.engine.keyCount(), "a failed miss must not be cached");

    // A read over a hit between two misses, one of which fails.
    f.write(first + 1024, 16, false);
    assertThrows(BlockIOException.class, () -> f.check(first, n));
    f.noPlaceholders();

    f.backing.clearFaults();
    f.check(first, n);
    long hits = f.engine.stats().readHits.sum();
    f.check(first, n);
    assertTrue(f.engine.stats().readHits.sum() > hits, "the second read should hit the cache");
    f.noPlaceholders();

    // Many readers, a quarter of the backing reads failing, while a writer keeps writing.
    f.backing.failWithProbability(Op.READ, 0.25);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> readers = new ArrayList<>();
    int[] eio = new int[1];
    for (int t = 0; t < 4; t++) {
      SplittableRandom tr = r.split();
      readers.add(Thread.ofPlatform().start(() -> {
        MemorySegment dst = Arena.ofAuto().allocate(1L << 20, 4096);
        try {
          for (int i = 0; i < 150; i++) {
            int len = 1 + tr.nextInt(2048);
            // Reads stay in the upper half, which no one writes.
            int at = SECTORS / 2 + tr.nextInt(SECTORS / 2 - len);
            try {
              f.engine.read((long) at * SECTOR, dst.asSlice(0, (long) len * SECTOR));
            } catch (BlockIOException x) {
              assertEquals(BlockIOException.Errno.EIO, x.errno());
              synchronized (eio) {
                eio[0]++;
              }
              continue;
            }
            for (int s = 0; s < len; s++) {
              assertEquals(1, SectorTags.tagOf(dst, (long) s * SECTOR, at + s), "sector " + (at + s));
            }
          }
        } catch (Throwable x) {
          failure.compareAndSet(null, x);
        }
      }));
    }
    for (int i = 0; i < 200; i++) {
      f.write(r.nextInt(SECTORS / 2 - 64), 1 + r.nextInt(64), r.nextBoolean());
    }
    for (Thread t : readers) {
      t.join();
    }
    if (failure.get() != null) {
      throw new AssertionError(failure.get());
    }
    assertTrue(eio[0] > 0, "no read failed");
    f.backing.clearFaults();
    f.noPlaceholders();
    f.checkAll();
    f.checkAll();
  }

  @Test
  void aSlowBackingDeviceDoesNotSlowCachedIo() throws Exception {
    SplittableRandom r = Seeds.random("EngineFaultTest.aSlowBackingDeviceDoesNotSlowCachedIo");
    Fixture f = new Fixture(r, Duration.ofSeconds(60));
    Duration delay = Duration.ofMillis(25);
    f.backing.delay(Op.READ, delay).delay(Op.WRITE, delay).delay(Op.WRITE_ZEROES, delay).delay(Op.FLUSH, delay);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    long[][] latencies = new long[4][];
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      int thread = t;
      SplittableRandom tr = r.split();
      threads.add(Thread.ofPlatform().start(() -> {
        MemorySegment b = Arena.ofAuto().allocate(256 << 10, 4096);
        long[] lat = new long[200];
        int base = thread * (SECTORS / 4);
        try {
          for (int i = 0; i < 200; i++) {
            int n = 1 + tr.nextInt(512);
            int first = base + tr.nextInt(SECTORS / 4 - n);
            long tag = ((long) (thread + 2) << 40) + i;
            SectorTags.fill(b, 0, tag, first, n);
            long t0 = System.nanoTime();
            f.engine.write((long) first * SECTOR, b.asSlice(0, (long) n * SECTOR), tr.nextInt(10) == 0);
            lat[i] = System.nanoTime() - t0;
            Arrays.fill(f.ref, first, first + n, tag);
            // Read back what was just written: a hit.
            f.engine.read((long) first * SECTOR, b.asSlice(0, (long) n * SECTOR));
            for (int s = 0; s < n; s++) {
              assertEquals(tag, SectorTags.tagOf(b, (long) s * SECTOR, first + s));
            }
          }
          latencies[thread] = lat;
        } catch (Throwable x) {
          failure.compareAndSet(null, x);
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    if (failure.get() != null) {
      throw new AssertionError(failure.get());
    }
    long[] all = Arrays.stream(latencies).flatMapToLong(Arrays::stream).sorted().toArray();
    long median = all[all.length / 2];
    System.out.println("EngineFaultTest: write latency with a " + delay.toMillis() + " ms backing device: median "
        + median / 1000 + " us, p90 " + all[all.length * 9 / 10] / 1000 + " us");
    assertTrue(median < delay.toNanos() / 2, "cached writes wait for the slow backing device: median " + median / 1000
        + " us");
    f.drain(); // writeback goes on, slowly
    f.backingEqualsReference();
  }

  @Test
  void aFullCacheWhoseWritebackFailsFailsWritesWithEioAndRecovers() throws Exception {
    SplittableRandom r = Seeds.random("EngineFaultTest.aFullCacheWhoseWritebackFailsFailsWritesWithEioAndRecovers");
    Fixture f = new Fixture(r, Duration.ofSeconds(1));
    f.backing.failAlways(Op.WRITE, true);
    BlockIOException full = null;
    int written = 0;
    for (int i = 0; i < 400 && full == null; i++) {
      int first = (i % 16) * 8192;
      try {
        f.write(first, 8192, false);
        written++;
      } catch (BlockIOException e) {
        full = e;
        // The failed write may have landed in part: write the range again below.
        Arrays.fill(f.ref, first, first + 8192, -1);
      }
    }
    assertTrue(full != null, "writes never failed although nothing could be written back");
    assertEquals(BlockIOException.Errno.EIO, full.errno());
    assertTrue(full.getMessage().contains("cache full"), full.getMessage());
    assertTrue(f.engine.segments.map().waits() > 0);
    assertTrue(written > 90, "the cache should hold about 480 MiB before it is full, took " + written + " x 4 MiB");
    f.backing.clearFaults();
    f.engine.flush();
    for (int first = 0; first < SECTORS; first += 8192) {
      if (f.ref[first] == -1) {
        f.write(first, 8192, false);
      }
    }
    f.drain();
    f.backingEqualsReference();
    f.checkAll();
  }
}
