package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.BlockIOException;
import io.pcache.api.media.PersistenceDomain;
import io.pcache.core.format.Layout;
import io.pcache.testkit.CrashingBacking;
import io.pcache.testkit.CrashingMedia;
import io.pcache.testkit.PowerSupply;
import io.pcache.testkit.Seeds;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Power cuts at thousands of random points of a single-threaded workload (writes, FUA writes,
 * flushes, discards, write-zeroes, reads, GC percentage changes, clean restarts) on a {@link
 * CrashingMedia} and {@link CrashingBacking} that share one {@link PowerSupply}. The cut is armed
 * at a random count of mutating device operations, so it lands in the caller's requests as well as
 * in the engine's own threads (kset flusher, writeback, GC); what the cut keeps of the stores not
 * yet durable is random too (nothing, everything, or torn at word/line/sector granularity). Each
 * start reports the media as DAX or as a page-cache file at random, so that both of the engine's
 * data-persist strategies (at once, or deferred to the next kset) are cut.
 *
 * <h2>What is checked</h2>
 *
 * A reference keeps per 512-byte sector its <em>durable</em> value (written by an acknowledged FUA
 * write, or by a write acknowledged before an acknowledged flush) and the <em>maybe</em> values
 * written after it (acknowledged but not flushed, or cut short by the crash). After each cut the
 * engine is reopened on the images as the cut left them and the whole device is read: every sector
 * must be its durable value or one of its maybe values, and must be exactly the data some write
 * wrote there ({@link SectorTags}): never garbage, never another sector's data. (Every sector with
 * undecided values is read after each cut, with a random window and, every fourth time, the
 * whole device; every sector at each drain.) What the restarted
 * engine serves then becomes the new durable state, so a value once served must survive every
 * later crash. While the engine runs, every read must see the latest acknowledged value. Every
 * few dozen crash points the cache is drained (gc_percent 0, wait until key_head == dirty_tail ==
 * key_tail) and the backing device compared with the reference byte for byte; now and then the
 * cache is reformatted (with data CRCs switched on or off), with cuts during the format too.
 *
 * <p>{@link #crashAgainDuringRecovery} arms a second (and third) cut during the restart: during
 * open and replay, the first writeback and GC rounds, or the verification reads and their miss
 * fills. Sectors verified before such a cut keep the value they were seen with.
 *
 * <h2>How many cuts, and what they cost</h2>
 *
 * A run makes at least {@value #CUTS_PER_RUN} cuts ({@value #RANDOM_POINT_CUTS} at random
 * points, the rest in the campaign that cuts during recovery too) and fails below that. A cut costs
 * a restart (close the dead engine, open and replay, verify), so the iterations are kept short:
 * most workloads are 1-12 operations (a quarter are 3-62 as before), the wait for background work
 * after a workload is 0-2 ms (an eighth of the time up to 30 ms), the whole device is read after
 * one restart in 16 (pending sectors and a random window after every one), drains come every 100
 * iterations and end any holding back at once ({@link CacheEngine#drainMark}, which a plain flush
 * does not: with a writeback dirty percentage that waited a second for the device to go idle), and
 * gc_percent is mostly low so that GC keeps the log short. Measured on 2 shared cores: 1,700 cuts in
 * 57 s before (about 33 ms a cut); about 10 ms a cut now at a load average near 2, 21 ms at 5-6
 * (10,000 cuts in 211 s, 156 s of CPU). What remains is mostly replay: with data CRCs it
 * reads every key's extent into a newly allocated buffer ({@code Replay.run}, and {@code
 * Gc.verify} likewise), over half of the test thread's samples in a profile.
 *
 * <h2>Reproducing</h2>
 *
 * Every test prints its seed; {@code -Dpcache.test.seed=N} replays the same workload, crash counts
 * and survival choices. The engine's threads make the exact instant of a cut in background work
 * timing-dependent, so a failure there may need a few runs. {@code -Dpcache.test.long=true} runs
 * 20 times more crash points.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class EngineCrashTest {

  static final long MEDIA_SIZE = 512L << 20;
  static final long BACKING_SIZE = 16L << 20;
  static final int SECTORS = (int) (BACKING_SIZE / SectorTags.SECTOR);
  static final int SECTORS_PER_STRIPE = (4 << 20) / SectorTags.SECTOR;
  static final boolean LONG = Boolean.getBoolean("pcache.test.long");

  /** Power cuts per run of both campaigns (issue #15): most at random points, the rest with cuts during recovery. */
  static final int CUTS_PER_RUN = 10_000;
  static final int RANDOM_POINT_CUTS = 6_500;
  static final int RECOVERY_CUTS = CUTS_PER_RUN - RANDOM_POINT_CUTS;
  private static long totalCuts;
  private static int campaigns;

  private static final Logger ENGINE_LOG = Logger.getLogger("io.pcache.core.engine");
  private static Level savedLevel;
  private static Arena arena;
  private static MemorySegment mediaImage;
  private static MemorySegment backingImage;

  @BeforeAll
  static void images() {
    // A dead engine (after a cut) keeps running until closed and logs what it finds on the frozen
    // images; those lines are noise here. Failures are reported by the checks.
    savedLevel = ENGINE_LOG.getLevel();
    ENGINE_LOG.setLevel(Level.OFF);
    arena = Arena.ofShared();
    mediaImage = arena.allocate(MEDIA_SIZE, 4096);
    backingImage = arena.allocate(BACKING_SIZE, 4096);
  }

  @AfterAll
  static void release() {
    ENGINE_LOG.setLevel(savedLevel);
    arena.close();
    System.out.println("EngineCrashTest: " + totalCuts + " power cuts in " + campaigns + " campaigns");
    if (campaigns == 2) {
      assertTrue(totalCuts >= CUTS_PER_RUN, "only " + totalCuts + " power cuts in this run; at least " + CUTS_PER_RUN
          + " wanted");
    }
  }

  @Test
  void crashAtRandomPoints() throws Exception {
    SplittableRandom r = Seeds.random("EngineCrashTest.crashAtRandomPoints");
    Run run = new Run(r, 0.1);
    long target = LONG ? 20L * RANDOM_POINT_CUTS : RANDOM_POINT_CUTS;
    try {
      run.run(target, Duration.ofSeconds(LONG ? 3600 : 60));
    } finally {
      count(run);
    }
    assertTrue(run.crashPoints >= target, "too few crash points (" + target + " wanted): " + run.summary());
  }

  @Test
  void crashAgainDuringRecovery() throws Exception {
    SplittableRandom r = Seeds.random("EngineCrashTest.crashAgainDuringRecovery");
    Run run = new Run(r, 1.0);
    long target = LONG ? 20L * RECOVERY_CUTS : RECOVERY_CUTS;
    try {
      run.run(target, Duration.ofSeconds(LONG ? 1200 : 40));
    } finally {
      count(run);
    }
    assertTrue(run.crashPoints >= target && run.recoveryCrashes >= 50, "too few crash points (" + target
        + " wanted, 50 of them during recovery): " + run.summary());
  }

  private static synchronized void count(Run run) {
    totalCuts += run.crashPoints;
    campaigns++;
  }

  /** One crash campaign over the shared images. */
  static final class Run {

    final SplittableRandom master;
    final double recoveryCrashProbability;
    final PowerSupply power = new PowerSupply();
    CrashingMedia media;
    CrashingBacking backing;
    CacheEngine engine;
    boolean dataCrc;

    final long[] durable = new long[SECTORS];
    final long[] current = new long[SECTORS];
    final long[][] maybe = new long[SECTORS][];
    /** The sectors that may have undecided values, each once ({@link #listed}). */
    final int[] pending = new int[SECTORS];
    final boolean[] listed = new boolean[SECTORS];
    int pendingCount;
    long nextTag = 2;

    final MemorySegment buf = Arena.ofAuto().allocate(4L << 20, 4096);
    final MemorySegment readBuf = Arena.ofAuto().allocate(4L << 20, 4096);
    final List<String> opLog = new ArrayList<>();
    /** Every range op of the run, for the history of a failing sector: {first, n, iteration, text index}. */
    final List<long[]> journal = new ArrayList<>();
    final List<String> journalText = new ArrayList<>();
    long iterationIndex;
    long iterationSeed;
    long opsEstimate = 40;

    long crashPoints;
    long recoveryCrashes;
    long drains;
    long formats;
    long cleanRestarts;
    long manualCuts;
    long logSegmentSwitches;
    int lastHeadSegment;
    long acknowledgedOps;
    long verifiedSectors;
    final Map<String, Integer> cutThreads = new TreeMap<>();

    Run(SplittableRandom master, double recoveryCrashProbability) {
      this.master = master;
      this.recoveryCrashProbability = recoveryCrashProbability;
    }

    String summary() {
      return crashPoints + " crash points (" + recoveryCrashes + " during recovery, " + manualCuts
          + " cut by the test after the workload), armed cuts by thread " + cutThreads + "; " + logSegmentSwitches
          + " kset log segment switches; "
          + acknowledgedOps + " acknowledged ops, " + verifiedSectors + " sectors verified, " + drains + " drains, "
          + formats + " formats, " + cleanRestarts + " clean restarts";
    }

    /**
     * Runs crash iterations until {@code target} crash points; {@code budget} is what that should
     * take on CI (the run stops, and the test fails, after four budgets, so that a machine much
     * slower than expected is reported rather than waited for).
     */
    void run(long target, Duration budget) throws Exception {
      long start = System.nanoTime();
      backingImage.fill((byte) 0);
      for (int s = 0; s < SECTORS; s += SECTORS_PER_STRIPE) {
        SectorTags.fill(backingImage, (long) s * SectorTags.SECTOR, 1, s, SECTORS_PER_STRIPE / 2);
      }
      for (int s = 0; s < SECTORS; s++) {
        durable[s] = current[s] = (s % SECTORS_PER_STRIPE) < SECTORS_PER_STRIPE / 2 ? 1 : 0;
      }
      media = CrashingMedia.over("crash:cache", mediaImage, power);
      backing = CrashingBacking.over("crash:backing", backingImage, power);
      wipeSuperblock();
      format(master.split());
      int i = 0;
      try {
        for (; crashPoints < target; i++) {
          if (System.nanoTime() - start >= 4 * budget.toNanos()) {
            break;
          }
          iterationSeed = master.nextLong();
          iterationIndex = i;
          iteration(new SplittableRandom(iterationSeed));
          if (i % 100 == 99) {
            drainAndCompare();
          }
          if (i % 800 == 799) {
            reformat(new SplittableRandom(iterationSeed ^ 0xF0F0));
          }
          if (i % 600 == 20) {
            ageLog(new SplittableRandom(iterationSeed ^ 0xA6E));
          }
          int headSeg = engine.log.head().segId();
          if (headSeg != lastHeadSegment) {
            logSegmentSwitches++;
            lastHeadSegment = headSeg;
          }
        }
        drainAndCompare();
      } finally {
        closeQuietly();
        long ms = (System.nanoTime() - start) / 1_000_000;
        System.out.println("EngineCrashTest: " + i + " iterations in " + ms + " ms: " + summary());
      }
    }

    // -------------------------------------------------------------------------------------------
    // One crash point

    void iteration(SplittableRandom r) throws Exception {
      opLog.clear();
      long before = power.operations();
      boolean early = r.nextBoolean();
      if (early) {
        // Somewhere in the workload, or in the background work it causes.
        long n = 1 + r.nextLong(Math.max(8, opsEstimate * 5 / 4));
        power.armAt(n, r.split());
        opLog.add("armed at +" + n);
      }
      if (r.nextInt(12) == 0) {
        drainWorkload(r);
      } else {
        workload(r, r.nextInt(4) == 0 ? 3 + r.nextInt(60) : 1 + r.nextInt(12));
      }
      if (!early && !power.down()) {
        opsEstimate = (opsEstimate * 7 + (power.operations() - before)) / 8;
        // In the background work after the workload: kset flushes, writeback, GC.
        long n = 1 + r.nextInt(40);
        power.armAt(n, r.split());
        opLog.add("armed after the workload at +" + n);
      }
      if (!power.down()) {
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(early ? r.nextInt(3) : r.nextInt(8) == 0 ? r.nextInt(30) : r.nextInt(3));
        while (!power.down() && System.nanoTime() < until) {
          Thread.sleep(1);
        }
      }
      if (!power.down()) {
        power.cut(r.split());
        manualCuts++;
      } else {
        cutThreads.merge(threadKind(power.lastCutThread()), 1, Integer::sum);
      }
      crashPoints++;
      journal(0, SECTORS, "cut: " + power.lastCut());
      recover(r);
    }

    static String threadKind(String name) {
      if (name.startsWith("pcache-writeback-io")) {
        return "writeback-io";
      }
      if (name.startsWith("pcache-")) {
        return name.substring("pcache-".length());
      }
      return "test";
    }

    /** Restarts after a cut (maybe cutting again during the restart) until a full verification passes. */
    void recover(SplittableRandom r) throws Exception {
      int crashes = 1;
      while (true) {
        closeQuietly();
        media = media.reopen();
        backing = backing.reopen();
        boolean armed = crashes < 3 && r.nextDouble() < recoveryCrashProbability;
        if (armed) {
          long n = 1 + r.nextInt(r.nextBoolean() ? 12 : 200);
          power.armAt(n, r.split());
          opLog.add("recovery " + crashes + ": armed at +" + n);
        } else {
          power.disarm();
        }
        boolean complete = open(r) && verify(r);
        if (complete && !power.down()) {
          power.disarm();
          return;
        }
        if (!power.down()) {
          power.cut(r.split());
          manualCuts++;
        } else {
          cutThreads.merge(threadKind(power.lastCutThread()), 1, Integer::sum);
        }
        journal(0, SECTORS, "cut during recovery: " + power.lastCut());
        crashes++;
        recoveryCrashes++;
        crashPoints++;
      }
    }

    EngineOptions options(SplittableRandom r) {
      Duration flushDelay = Duration.ofMillis(new int[] {2, 20, 200}[r.nextInt(3)]);
      return new EngineOptions(dataCrc, flushDelay, 1 + r.nextInt(4), Duration.ofSeconds(3), 1 + r.nextInt(16),
          1 + r.nextInt(8), 0, Duration.ofMillis(5 + r.nextInt(40)), false, r.nextInt(3) == 0 ? 40 : 0);
    }

    /** Opens the engine; false when the power went down meanwhile. */
    boolean open(SplittableRandom r) throws Exception {
      media.reportPersistenceDomain(r.nextBoolean() ? PersistenceDomain.DAX : PersistenceDomain.PAGE_CACHE);
      try {
        // The percentage counts at a format only (an existing cache keeps its own): mostly low, so
        // that GC keeps the log short and a restart replays less.
        engine = CacheEngine.open(media, backing, options(r), new TestPolicy(r.nextInt(4) == 0 ? 70 : r.nextInt(30)));
        journal(0, SECTORS, "opened (" + media.persistenceDomain() + "): " + engine.replayReport() + " "
            + engine.positions());
        return !power.down();
      } catch (IOException | RuntimeException e) {
        if (power.down()) {
          engine = null;
          return false;
        }
        throw failure("the engine does not start after a power cut", e);
      }
    }

    /**
     * Reads back and checks, after a restart: every sector that has undecided values (written
     * since its last verification), a random window, and every fourth time the whole device.
     * Returns false when the power went down meanwhile (the sectors checked before stay checked).
     */
    boolean verify(SplittableRandom r) throws Exception {
      List<int[]> ranges = new ArrayList<>();
      if (r.nextInt(16) == 0) {
        ranges.add(new int[] {0, SECTORS});
      } else {
        int[] undecided = Arrays.copyOf(pending, pendingCount);
        Arrays.sort(undecided);
        for (int i = 0; i < undecided.length; ) {
          int first = undecided[i];
          int last = first;
          while (++i < undecided.length && undecided[i] - last <= 64) {
            last = undecided[i];
          }
          ranges.add(new int[] {first, last - first + 1});
        }
        int n = 256 + r.nextInt(2048);
        ranges.add(new int[] {r.nextInt(SECTORS - n + 1), n});
      }
      try {
        for (int[] range : ranges) {
          if (!verify(r, range[0], range[1])) {
            return false;
          }
        }
        return true;
      } finally {
        compactPending();
      }
    }

    void compactPending() {
      int kept = 0;
      for (int i = 0; i < pendingCount; i++) {
        int s = pending[i];
        if (maybe[s] != null) {
          pending[kept++] = s;
        } else {
          listed[s] = false;
        }
      }
      pendingCount = kept;
    }

    boolean verify(SplittableRandom r, int from, int count) throws Exception {
      int pos = from;
      while (pos < from + count) {
        int len = Math.min(from + count - pos, 1 + r.nextInt(r.nextBoolean() ? 64 : 8192));
        MemorySegment dst = readBuf.asSlice(0, (long) len * SectorTags.SECTOR);
        try {
          engine.read((long) pos * SectorTags.SECTOR, dst);
        } catch (BlockIOException e) {
          if (power.down()) {
            return false;
          }
          throw failure("a read after recovery failed at sector " + pos + " length " + len, e);
        }
        if (power.down()) {
          return false;
        }
        for (int i = 0; i < len; i++) {
          int s = pos + i;
          long tag = SectorTags.tagOf(dst, (long) i * SectorTags.SECTOR, s);
          if (tag == SectorTags.GARBAGE) {
            throw failure("sector " + s + " (byte " + (long) s * SectorTags.SECTOR + ") reads back garbage "
                + SectorTags.describe(dst, (long) i * SectorTags.SECTOR) + "; durable " + durable[s] + " maybe "
                + Arrays.toString(maybe[s]), s, null);
          }
          if (tag != durable[s] && !contains(maybe[s], tag)) {
            throw failure("sector " + s + " (byte " + (long) s * SectorTags.SECTOR + ") reads back write " + tag
                + " but must be the durable write " + durable[s] + " or one of the later " + Arrays.toString(maybe[s]),
                s, null);
          }
          durable[s] = current[s] = tag;
          maybe[s] = null;
        }
        verifiedSectors += len;
        pos += len;
      }
      return true;
    }

    static boolean contains(long[] a, long v) {
      if (a != null) {
        for (long x : a) {
          if (x == v) {
            return true;
          }
        }
      }
      return false;
    }

    void journal(long first, long n, String text) {
      journal.add(new long[] {first, n, iterationIndex});
      journalText.add(text);
      opLog.add(text);
    }

    AssertionError failure(String what, Throwable cause) {
      return failure(what, -1, cause);
    }

    AssertionError failure(String what, int sector, Throwable cause) {
      StringBuilder b = new StringBuilder(what);
      if (sector >= 0) {
        b.append("\n  history of sector ").append(sector).append(" (iteration: op):");
        int lastOwn = 0;
        for (int i = 0; i < journal.size(); i++) {
          long[] j = journal.get(i);
          if (j[1] < SECTORS && sector >= j[0] && sector < j[0] + j[1]) {
            lastOwn = i;
          }
        }
        for (int i = 0; i < journal.size(); i++) {
          long[] j = journal.get(i);
          boolean own = j[1] < SECTORS && sector >= j[0] && sector < j[0] + j[1];
          if (own || (j[1] == SECTORS && i >= lastOwn - 20)) {
            b.append("\n    ").append(j[2]).append(": ").append(journalText.get(i));
          }
        }
        if (engine != null) {
          Stripe st = engine.index.stripe((long) sector * SectorTags.SECTOR);
          st.lock.lock();
          try {
            b.append("\n  index keys of its stripe: ").append(st.all());
          } finally {
            st.lock.unlock();
          }
        }
      }
      b.append("\n  master seed: see the 'seed' line above; iteration seed ").append(iterationSeed);
      b.append("\n  data_crc ").append(dataCrc).append("; ").append(summary());
      if (engine != null) {
        b.append("\n  engine: ").append(engine.positions()).append(" replay ").append(engine.replayReport());
        b.append("\n  status: ").append(engine.statusLine()).append("\n  stats: ").append(engine.stats().snapshot());
      }
      b.append("\n  this iteration:");
      int from = Math.max(0, opLog.size() - 80);
      for (String s : opLog.subList(from, opLog.size())) {
        b.append("\n    ").append(s);
      }
      return new AssertionError(b.toString(), cause);
    }

    // -------------------------------------------------------------------------------------------
    // Workload

    void workload(SplittableRandom r, int ops) throws Exception {
      for (int i = 0; i < ops && !power.down(); i++) {
        int k = r.nextInt(100);
        if (k < 28) {
          write(r, false, false);
        } else if (k < 40) {
          write(r, true, false);
        } else if (k < 45) {
          write(r, r.nextBoolean(), true);
        } else if (k < 55) {
          flush();
        } else if (k < 62) {
          zeroes(r, false, false);
        } else if (k < 69) {
          zeroes(r, true, r.nextBoolean());
        } else if (k < 71) {
          int p = r.nextInt(8) == 0 ? 90 : r.nextBoolean() ? r.nextInt(10) : r.nextInt(40);
          engine.setGcPercent(p);
          journal(0, SECTORS, "gc_percent " + p);
        } else if (k < 72) {
          cleanRestart(r);
        } else {
          read(r);
        }
      }
    }

    /** Sets gc_percent 0, flushes and waits a little for writeback and GC to drain (a cut is armed). */
    void drainWorkload(SplittableRandom r) throws Exception {
      write(r, false, false);
      engine.setGcPercent(0);
      journal(0, SECTORS, "drain");
      flush();
      if (!power.down()) {
        try {
          engine.drainMark(); // ends holding back, or a dirty percentage keeps the data for a second
        } catch (BlockIOException e) {
          if (!power.down()) {
            throw failure("drain failed", e);
          }
        }
      }
      long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200);
      while (!power.down() && !engine.clean() && System.nanoTime() < until) {
        Thread.sleep(1);
      }
    }

    long[] range(SplittableRandom r) {
      int n;
      int c = r.nextInt(10);
      if (c < 6) {
        n = 1 + r.nextInt(16);
      } else if (c < 9) {
        n = 1 + r.nextInt(512);
      } else {
        n = 1 + r.nextInt(6144);
      }
      long first;
      if (r.nextInt(3) == 0) {
        long boundary = (long) (1 + r.nextInt(SECTORS / SECTORS_PER_STRIPE - 1)) * SECTORS_PER_STRIPE;
        first = Math.max(0, boundary - 1 - r.nextInt(n));
      } else {
        first = r.nextInt(SECTORS);
      }
      n = (int) Math.min(n, SECTORS - first);
      return new long[] {first, n};
    }

    void write(SplittableRandom r, boolean fua, boolean zeroData) throws Exception {
      long[] range = range(r);
      int first = (int) range[0];
      int n = (int) range[1];
      long tag = zeroData ? 0 : nextTag++;
      SectorTags.fill(buf, 0, tag, first, n);
      journal(first, n, (fua ? "write FUA " : "write ") + first + "+" + n + " tag " + tag);
      boolean acked;
      try {
        TryPaths.write(engine, (long) first * SectorTags.SECTOR, buf.asSlice(0, (long) n * SectorTags.SECTOR), fua,
            (tag & 1) == 0);
        acked = !power.down();
      } catch (BlockIOException e) {
        if (!power.down()) {
          throw failure("write failed", e);
        }
        acked = false;
      }
      record(first, n, tag, acked, fua);
    }

    void zeroes(SplittableRandom r, boolean writeZeroes, boolean fua) throws Exception {
      long[] range = range(r);
      int first = (int) range[0];
      int n = (int) range[1];
      long off = (long) first * SectorTags.SECTOR;
      long len = (long) n * SectorTags.SECTOR;
      journal(first, n, (writeZeroes ? (fua ? "write-zeroes FUA " : "write-zeroes ") : "discard ") + first + "+" + n);
      boolean acked;
      try {
        if (writeZeroes) {
          engine.writeZeroes(off, len, fua);
        } else {
          engine.discard(off, len);
        }
        acked = !power.down();
      } catch (BlockIOException e) {
        if (!power.down()) {
          throw failure("discard/write-zeroes failed", e);
        }
        acked = false;
      }
      record(first, n, 0, acked, writeZeroes && fua);
    }

    void record(int first, int n, long tag, boolean acked, boolean durableNow) {
      if (acked) {
        acknowledgedOps++;
      }
      for (int s = first; s < first + n; s++) {
        current[s] = tag;
        if (acked && durableNow) {
          durable[s] = tag;
          maybe[s] = null;
        } else {
          addMaybe(s, tag);
        }
      }
    }

    void addMaybe(int s, long tag) {
      long[] m = maybe[s];
      if (m == null) {
        maybe[s] = new long[] {tag};
        if (!listed[s]) {
          listed[s] = true;
          pending[pendingCount++] = s;
        }
      } else if (!contains(m, tag)) {
        m = Arrays.copyOf(m, m.length + 1);
        m[m.length - 1] = tag;
        maybe[s] = m;
      }
    }

    void flush() throws Exception {
      journal(0, SECTORS, "flush");
      try {
        TryPaths.flush(engine, (nextTag & 1) == 0);
      } catch (BlockIOException e) {
        if (!power.down()) {
          throw failure("flush failed", e);
        }
        return;
      }
      if (!power.down()) {
        acknowledgedOps++;
        flushModel();
      }
    }

    void flushModel() {
      for (int i = 0; i < pendingCount; i++) {
        int s = pending[i];
        if (maybe[s] != null) {
          durable[s] = current[s];
          maybe[s] = null;
        }
        listed[s] = false;
      }
      pendingCount = 0;
    }

    void read(SplittableRandom r) throws Exception {
      long[] range = range(r);
      int first = (int) range[0];
      int n = (int) range[1];
      MemorySegment dst = readBuf.asSlice(0, (long) n * SectorTags.SECTOR);
      opLog.add("read " + first + "+" + n);
      try {
        TryPaths.read(engine, (long) first * SectorTags.SECTOR, dst, (first & 1) == 0);
      } catch (BlockIOException e) {
        if (!power.down()) {
          throw failure("read failed", e);
        }
        return;
      }
      if (power.down()) {
        return;
      }
      acknowledgedOps++;
      for (int i = 0; i < n; i++) {
        int s = first + i;
        long tag = SectorTags.tagOf(dst, (long) i * SectorTags.SECTOR, s);
        if (tag != current[s]) {
          throw failure("a read of sector " + s + " returns write " + tag + " but the last acknowledged write there is "
              + current[s] + " " + SectorTags.describe(dst, (long) i * SectorTags.SECTOR), s, null);
        }
      }
    }

    /** Closes the engine cleanly and opens it again (a cut may be armed meanwhile). */
    void cleanRestart(SplittableRandom r) throws Exception {
      journal(0, SECTORS, "clean restart");
      try {
        engine.close();
      } catch (IOException e) {
        if (!power.down()) {
          throw failure("close failed", e);
        }
      }
      if (power.down()) {
        return;
      }
      acknowledgedOps++;
      flushModel(); // close closes every kset: what was written is durable
      cleanRestarts++;
      media = media.reopen();
      backing = backing.reopen();
      open(r);
    }

    // -------------------------------------------------------------------------------------------
    // Drain, format

    void drainAndCompare() throws Exception {
      power.disarm();
      drains++;
      if (!verify(master, 0, SECTORS)) {
        throw failure("the power went down although no cut was armed", null);
      }
      compactPending();
      engine.setGcPercent(0);
      engine.drainMark(); // a flush that also ends any holding back (writeback dirty percent)
      flushModel();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (System.nanoTime() < deadline
          && !(engine.clean() && engine.log.keyTail().equals(engine.log.dirtyTail()))) {
        Thread.sleep(2);
      }
      if (!engine.clean() || !engine.log.keyTail().equals(engine.log.dirtyTail())) {
        throw failure("the cache does not drain: " + engine.positions(), null);
      }
      MemorySegment image = backing.image();
      for (int s = 0; s < SECTORS; s++) {
        long tag = SectorTags.tagOf(image, (long) s * SectorTags.SECTOR, s);
        if (tag != current[s]) {
          throw failure("after draining, backing sector " + s + " holds write " + tag + " but the cache served "
              + current[s], s, null);
        }
      }
      journal(0, SECTORS, "drained, backing == reference");
      engine.setGcPercent(new int[] {0, 10, 30, 70, 90}[master.nextInt(5)]);
    }

    /**
     * Brings key_head close to the end of its kset segment (the log otherwise grows by a few
     * hundred bytes per crash point and would never leave its first segment in a CI run), so that
     * the next crash points meet LAST ksets, a new kset segment, and GC freeing the old one. Uses
     * one-sector discards (one 40-byte key each) of one sector, then restores that sector and
     * drains.
     */
    void ageLog(SplittableRandom r) throws Exception {
      long remaining = Layout.SEG_DATA_SIZE - engine.log.head().off();
      long margin = 2048 + r.nextInt(120_000);
      if (remaining < margin + 100_000) {
        return;
      }
      int sector = r.nextInt(SECTORS);
      long keys = (remaining - margin) / 40;
      journal(sector, 1, "age the log: " + keys + " discards of sector " + sector + " from " + engine.log.head());
      for (long k = 0; k < keys; k++) {
        engine.discard((long) sector * SectorTags.SECTOR, SectorTags.SECTOR);
      }
      SectorTags.fill(buf, 0, current[sector], sector, 1);
      engine.write((long) sector * SectorTags.SECTOR, buf.asSlice(0, SectorTags.SECTOR), true);
      engine.flush();
      journal(sector, 1, "aged the log to " + engine.log.head() + ", sector " + sector + " restored to " + current[sector]);
      // Let writeback and GC pass the aged part, or every restart replays 400k keys.
      drainAndCompare();
    }

    void wipeSuperblock() throws IOException {
      // The superblock through cache_ctrl and segment 0's header: what a blank device has zero.
      MemorySegment zero = Arena.ofAuto().allocate(Layout.SEGMENTS_OFF + Layout.SEG_DATA_OFF - 4096, 4096);
      media.write(4096, zero);
      media.persist(4096, zero.byteSize());
    }

    /** Formats a blank cache, maybe with a cut during the format. */
    void format(SplittableRandom r) throws Exception {
      formats++;
      dataCrc = r.nextBoolean();
      journal(0, SECTORS, "format, data_crc " + dataCrc);
      if (r.nextBoolean()) {
        long n = 1 + r.nextInt(400);
        power.armAt(n, r.split());
        opLog.add("armed during format at +" + n);
      }
      if (open(r)) {
        power.disarm();
        if (verify(r)) {
          return;
        }
      }
      if (!power.down()) {
        power.cut(r.split());
        manualCuts++;
      } else {
        cutThreads.merge(threadKind(power.lastCutThread()), 1, Integer::sum);
      }
      crashPoints++;
      recover(r);
    }

    /** After a drain: throws the cache away and formats a new one (the backing device holds everything). */
    void reformat(SplittableRandom r) throws Exception {
      drainAndCompare();
      closeQuietly();
      media = media.reopen();
      backing = backing.reopen();
      wipeSuperblock();
      format(r);
    }

    void closeQuietly() {
      if (engine != null) {
        try {
          engine.close();
        } catch (IOException | RuntimeException e) {
          // a dead engine may fail to close; the images are what count
        }
        engine = null;
      }
    }
  }
}
