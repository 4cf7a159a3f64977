package io.pcache.core.engine;

import static io.pcache.core.format.Meta.U32;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.PersistenceDomain;
import io.pcache.core.format.CachePos;
import io.pcache.core.format.KeyRecord;
import io.pcache.core.format.Kset;
import io.pcache.core.format.Layout;
import io.pcache.core.format.Meta;
import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.EnumMap;
import java.util.HashMap;
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
 * Media corruption (issue #15): a cache with dirty data in its log is closed cleanly, then one
 * structure of its image is damaged at a time, and the cache must either refuse to start, or serve
 * exactly the data last written, or fail with EIO exactly where the data is damaged. Serving any
 * other bytes is <b>SILENT WRONG</b>, the failure this test exists to catch.
 *
 * <h2>Images</h2>
 *
 * Four base images: data CRCs on and off, each with the log in one kset segment (from 0:0) and
 * with the log crossing into a second kset segment (key_tail moved to near the end of segment 0
 * by about 16 MiB of one-sector discards that were written back and reclaimed, so the log of the
 * pattern has a LAST kset in its middle, and the older key_tail replica points at reclaimed but
 * intact ksets). The pattern ({@link #pattern}, fixed seed): writes of 512 B to 1 MiB at known
 * offsets, writes across a 4 MiB stripe boundary, overwrites, a discard, a round of 90 small
 * writes in one stripe (a kset with many keys), a flush after each round; writeback is paused so
 * that everything stays dirty. A 512 MiB {@link MemoryMedia} buffer is shared: each base is saved
 * as its non-zero 4 KiB pages, and after each case only what the case changed (the corrupted
 * bytes and every write the engine made, recorded by {@link TrackingMedia}) is restored.
 *
 * <h2>Corruptions</h2>
 *
 * One structure per case: every superblock field; each cache_info replica; key_tail and
 * dirty_tail (each replica, both replicas, the whole cache_ctrl sector); segment_info and seg_gen
 * replicas of a data segment in use, a kset segment and an unused segment; kset headers (crc,
 * key_num or next segment, magic, flags) and every key field (off, len, flags, seg_id, seg_off,
 * seg_gen, data_crc, reserved) of the first, middle and last ksets of the log; the LAST kset; the
 * data of dirty extents. Kinds: one bit flipped, one byte randomised, an aligned 8-byte word
 * zeroed, the 512-byte sector zeroed or randomised. A corruption that changes nothing (a zero word
 * zeroed) is not counted. {@code -Dpcache.corruption.seed=N} repeats a run; the seed is printed.
 *
 * <h2>What is checked, and the outcomes</h2>
 *
 * For each image the offline inspector ({@link Inspector#inspect}, with data CRCs) runs, then the
 * engine opens it over a copy of the backing device as it was at close, reads the whole device
 * and compares it with the last acknowledged writes; if it opened, it then drains and the backing
 * device must hold what the engine served. Outcomes:
 *
 * <ul>
 *   <li><b>refused</b>: open failed with an IOException that names the device;
 *   <li><b>exact</b>: every byte as written (the column {@code flagged+exact} counts those where
 *       the inspector reported a problem all the same: fine, informational);
 *   <li><b>eio-on-damage</b>: reads of the extents whose data is damaged fail with an IOException,
 *       everything else is exact;
 *   <li><b>lost-at-tail</b>: the damage is what a power cut while the last kset was written could
 *       also leave, so no engine can tell it from one: zeroed words or sectors, or a randomised
 *       sector (old garbage where the kset never landed, its magic gone), in the last kset of the
 *       log with no valid kset after it. dm-pcache and pcache treat a bad last kset as the end of
 *       the log. Then the sectors written by the keys of the lost ksets may hold what they held
 *       before those keys (the log replayed without them); everything else must be exact. A bit
 *       flip is never a power cut, and neither is damage in a kset with valid ksets after it: those
 *       are strict; so is a randomised byte on a cache with data CRCs (the engine finds the byte
 *       that explains the kset's CRC and checks the keys against their data). Without data CRCs a
 *       randomised byte of the last kset counts here: told from a torn write only by a search
 *       over 1.3 million candidates, which without a second check would take torn ksets for damaged
 *       ones too often;
 *   <li><b>cut (accepted)</b>: a few images with a damaged middle kset are opened again with
 *       {@link EngineOptions.RecoverLog#CUT}: the engine must start, and a sector may differ from
 *       the last write only if a key of the cut ksets wrote it, and then it must hold what the log
 *       without those ksets gives (older but consistent);
 *   <li><b>undetectable (no CRC)</b>: damaged data bytes of a cache without data CRCs read back
 *       damaged: the format has nothing that could detect it;
 *   <li><b>SILENT WRONG</b>: anything else where a read returned bytes that are not the last
 *       acknowledged write, or a formatted cache over a device that held dirty data;
 *   <li><b>CHECK MISSED</b>: the engine started and lost data (EIO, a cut) or served wrong data,
 *       and the inspector said the cache is fine;
 *   <li><b>EIO beyond damage</b>: a read failed outside the damaged extents;
 *   <li><b>UNEXPECTED</b>: a RuntimeException from the inspector or the engine, or an IOException
 *       without the device's name.
 * </ul>
 *
 * The test prints a table of outcomes per structure and fails listing every case of the last four
 * kinds.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class CorruptionTest {

  static final long MEDIA_SIZE = 512L << 20;
  static final long BACKING_SIZE = 16L << 20;
  static final int SECTOR = SectorTags.SECTOR;
  static final int SECTORS = (int) (BACKING_SIZE / SECTOR);
  static final long PAGE = 4096;
  static final String NAME = "mem:corrupt";
  static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED;

  enum Kind { BIT_FLIP, RANDOM_BYTE, ZERO_WORD, ZERO_SECTOR, RANDOM_SECTOR }

  enum Outcome {
    REFUSED("refused"), EXACT("exact"), FLAGGED_EXACT("flagged+exact"), EIO_ON_DAMAGE("eio-on-damage"),
    LOST_AT_TAIL("lost-at-tail"), CUT_ACCEPTED("cut(accepted)"), UNDETECTABLE("undetectable(no-crc)"),
    SILENT_WRONG("SILENT-WRONG"), CHECK_MISSED("CHECK-MISSED"), EIO_BEYOND("EIO-beyond-damage"),
    UNEXPECTED("UNEXPECTED");

    final String label;

    Outcome(String label) {
      this.label = label;
    }

    boolean failure() {
      return this == SILENT_WRONG || this == CHECK_MISSED || this == EIO_BEYOND || this == UNEXPECTED;
    }
  }

  private static final Logger ENGINE_LOG = Logger.getLogger("io.pcache.core.engine");
  private static Level savedLevel;
  private static Arena arena;
  private static MemorySegment work;
  private static MemorySegment backingWork;

  @BeforeAll
  static void buffers() {
    // Every damaged image makes the engine log what it found; the outcome table says it all.
    savedLevel = ENGINE_LOG.getLevel();
    ENGINE_LOG.setLevel(Level.OFF);
    arena = Arena.ofShared();
    work = arena.allocate(MEDIA_SIZE, 4096);
    backingWork = arena.allocate(BACKING_SIZE, 4096);
  }

  @AfterAll
  static void release() {
    ENGINE_LOG.setLevel(savedLevel);
    arena.close();
  }

  // -----------------------------------------------------------------------------------------------
  // The test

  @Test
  void everyCorruptionIsRefusedOrServedExactlyOrFailsWithEio() throws Exception {
    long seed = Long.getLong("pcache.corruption.seed", System.nanoTime() ^ 0x15L);
    System.out.println("CorruptionTest: seed " + seed + " (repeat with -Dpcache.corruption.seed=" + seed + ")");
    SplittableRandom master = new SplittableRandom(seed);
    long start = System.nanoTime();
    Results results = new Results();
    int singleLogBytes = 0;
    for (boolean multi : new boolean[] {false, true}) {
      for (boolean crc : new boolean[] {true, false}) {
        long t0 = System.nanoTime();
        Base base = build(crc, multi ? singleLogBytes / 2 : -1);
        if (!multi) {
          singleLogBytes = (int) base.logBytes;
        }
        long t1 = System.nanoTime();
        int before = results.cases;
        runCases(base, master.split(), results);
        System.out.println("CorruptionTest: " + base.name + ": built in " + (t1 - t0) / 1_000_000 + " ms, "
            + (results.cases - before) + " cases in " + (System.nanoTime() - t1) / 1_000_000 + " ms");
      }
    }
    long ms = (System.nanoTime() - start) / 1_000_000;
    System.out.println("CorruptionTest: " + results.cases + " corrupted images in " + ms + " ms");
    System.out.print(results.table());
    if (results.cases < 200) {
      throw new AssertionError("only " + results.cases + " corrupted images (at least 200 wanted)");
    }
    if (!results.failures.isEmpty()) {
      StringBuilder b = new StringBuilder(results.failures.size() + " corrupted images were not handled safely"
          + " (seed " + seed + "):");
      results.failures.stream().limit(80).forEach(f -> b.append("\n  ").append(f));
      if (results.failures.size() > 80) {
        b.append("\n  ... and ").append(results.failures.size() - 80).append(" more");
      }
      throw new AssertionError(b.toString());
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Base images

  /** A key of the clean log, with its data as it was. */
  record LoggedKey(int ksetIndex, KeyRecord key, MemorySegment data) {}

  /** A kset of the clean log: its index in log order, where it is on the media, and what it holds. */
  record LoggedKset(int index, long mediaOff, int size, Kset kset) {}

  /** A clean image: its non-zero pages, the backing device at close, the log and the expected data. */
  static final class Base {
    final String name;
    final boolean dataCrc;
    final List<long[]> runs = new ArrayList<>();
    final List<MemorySegment> runData = new ArrayList<>();
    MemorySegment backing;
    MemorySegment expected;
    final List<LoggedKset> ksets = new ArrayList<>();
    final List<LoggedKey> keys = new ArrayList<>();
    final Map<Integer, MemorySegment> models = new HashMap<>();
    long logBytes;
    int unusedSegment;

    Base(String name, boolean dataCrc) {
      this.name = name;
      this.dataCrc = dataCrc;
    }

    /** The device as the log gives it when only the ksets before {@code upTo} survive. */
    MemorySegment model(int upTo) {
      return models.computeIfAbsent(upTo, n -> {
        MemorySegment m = Arena.ofAuto().allocate(BACKING_SIZE, 8);
        m.copyFrom(backing);
        for (LoggedKey k : keys) {
          if (k.ksetIndex() < n && !k.key().clean()) {
            MemorySegment.copy(k.data(), 0, m, k.key().off(), k.data().byteSize());
          }
        }
        return m;
      });
    }

    /** Sectors written by keys of the ksets from {@code from} on. */
    BitSet writtenFrom(int from) {
      BitSet b = new BitSet(SECTORS);
      for (LoggedKey k : keys) {
        if (k.ksetIndex() >= from && !k.key().clean()) {
          b.set((int) (k.key().off() / SECTOR), (int) (k.key().end() / SECTOR));
        }
      }
      return b;
    }
  }

  static EngineOptions options(boolean crc) {
    return EngineOptions.defaults().withDataCrc(crc).withKsetFlushDelay(Duration.ofHours(1));
  }

  /**
   * Formats the shared buffer, writes the pattern with writeback paused and closes; with {@code
   * logOffset} >= 0 first ages the log so that the pattern's log starts {@code logOffset} bytes
   * before the end of kset segment 0 (minus a margin for the LAST kset).
   */
  static Base build(boolean crc, int logOffset) throws Exception {
    Base base = new Base((crc ? "crc" : "no-crc") + (logOffset >= 0 ? ", 2 kset segments" : ", 1 kset segment"), crc);
    work.fill((byte) 0);
    MemorySegment backing = Arena.ofAuto().allocate(BACKING_SIZE, 4096);
    for (int s = 0; s < SECTORS; s += 2048) {
      SectorTags.fill(backing, (long) s * SECTOR, 1, s, 2048);
    }
    MemorySegment expected = Arena.ofAuto().allocate(BACKING_SIZE, 8);
    expected.copyFrom(backing);
    MemoryBacking dev = new MemoryBacking("mem:backing", backing);
    Pattern p = new Pattern(expected);
    CacheEngine e = CacheEngine.open(new MemoryMedia(NAME, work), dev, options(crc), new TestPolicy(70));
    try {
      if (logOffset >= 0) {
        age(e, p, logOffset);
      }
      e.writeback().pause();
      pattern(e, p);
    } finally {
      e.close();
    }
    base.backing = Arena.ofAuto().allocate(BACKING_SIZE, 8);
    base.backing.copyFrom(backing);
    base.expected = expected;
    parseLog(base);
    saveRuns(base);
    MemorySegment full = base.model(base.ksets.size());
    long diff = full.mismatch(expected);
    if (diff >= 0) {
      throw new AssertionError(base.name + ": the clean log does not give the written data at byte " + diff
          + " (the test's log walk is wrong)");
    }
    System.out.println("CorruptionTest: base image " + base.name + ": " + base.ksets.size() + " ksets, " + base.keys.size()
        + " keys, " + base.logBytes + " log bytes, " + base.runs.size() + " saved runs");
    return base;
  }

  /** The acknowledged writes, as the expected content of the device. */
  static final class Pattern {
    final MemorySegment expected;
    final MemorySegment buf = Arena.ofAuto().allocate(4L << 20, 4096);
    long nextTag = 2;

    Pattern(MemorySegment expected) {
      this.expected = expected;
    }

    void write(CacheEngine e, long sector, int sectors) throws IOException {
      long tag = nextTag++;
      SectorTags.fill(buf, 0, tag, sector, sectors);
      MemorySegment src = buf.asSlice(0, (long) sectors * SECTOR);
      e.write(sector * SECTOR, src, false);
      MemorySegment.copy(src, 0, expected, sector * SECTOR, src.byteSize());
    }

    void discard(CacheEngine e, long sector, int sectors) throws IOException {
      e.discard(sector * SECTOR, (long) sectors * SECTOR);
      expected.asSlice(sector * SECTOR, (long) sectors * SECTOR).fill((byte) 0);
    }
  }

  /** The known workload: fixed sizes and offsets, then rounds from a fixed seed; a flush after each. */
  static void pattern(CacheEngine e, Pattern p) throws IOException {
    int stripe = 8192; // sectors per 4 MiB
    p.write(e, 0, 8); // 4 KiB
    p.write(e, 2048, 1); // 512 B at 1 MiB
    e.flush();
    p.write(e, 4097, 128); // 64 KiB at 2 MiB + 512
    p.write(e, 10240, 2048); // 1 MiB at 5 MiB
    e.flush();
    p.write(e, stripe - 16, 32); // 16 KiB across the first stripe boundary
    p.write(e, 3 * stripe - 3, 7); // across the third
    e.flush();
    p.write(e, 4, 4); // overwrites of the first writes
    p.write(e, 4097 + 32, 64);
    e.flush();
    p.discard(e, 10240 + 512, 256); // 128 KiB inside the 1 MiB write
    e.flush();
    SplittableRandom r = new SplittableRandom(15);
    for (int i = 0; i < 90; i++) { // one kset with many keys: stripe 2
      p.write(e, 2L * stripe + r.nextInt(stripe - 16), 1 + r.nextInt(16));
    }
    e.flush();
    for (int round = 0; round < 12; round++) {
      int ops = 1 + r.nextInt(5);
      for (int i = 0; i < ops; i++) {
        int n = switch (r.nextInt(4)) {
          case 0 -> 1;
          case 1 -> 8;
          case 2 -> 1 + r.nextInt(256);
          default -> 1024 + r.nextInt(1024);
        };
        p.write(e, r.nextInt(SECTORS - n), n);
      }
      if (round == 7) {
        p.discard(e, 2L * stripe + 100, 50);
      }
      e.flush();
    }
  }

  /**
   * Fills kset segment 0 with one-sector discards until {@code logOffset} bytes (and a LAST kset)
   * are left, restores the sector, and lets writeback and GC (gc_percent 0) pass all of it, so that
   * key_tail lies there.
   */
  static void age(CacheEngine e, Pattern p, int logOffset) throws Exception {
    long target = Layout.SEG_DATA_SIZE - logOffset;
    long sector = SECTORS - 1;
    int startSeg = e.log.head().segId();
    while (e.log.head().off() < target - Kset.sizeOf(Layout.KSET_KEYS_MAX) && e.log.head().segId() == startSeg) {
      e.discard(sector * SECTOR, SECTOR);
    }
    e.flush();
    p.write(e, sector, 1);
    e.flush();
    e.setGcPercent(0);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!(e.clean() && e.log.keyTail().equals(e.log.dirtyTail()))) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the aged log does not drain: " + e.positions());
      }
      Thread.sleep(2);
    }
    e.setGcPercent(70);
  }

  /** Walks the clean log in {@link #work} from key_tail, as replay does, keeping every key's data. */
  static void parseLog(Base base) {
    CachePos tail = latestPos(work, Layout.CACHE_CTRL_OFF);
    if (tail == null) {
      throw new AssertionError(base.name + ": no valid key_tail in the clean image");
    }
    int seg = tail.segId();
    long off = Integer.toUnsignedLong(tail.segOff());
    BitSet segs = new BitSet();
    while (true) {
      long available = Layout.SEG_DATA_SIZE - off;
      if (available < Layout.KSET_HEADER_SIZE) {
        break;
      }
      long at = Layout.dataOffset(seg, off);
      MemorySegment window = work.asSlice(at, Math.min(Layout.KSET_SIZE_MAX, available));
      if (Kset.check(window, 0, window.byteSize()) != Kset.Check.VALID) {
        break;
      }
      Kset k = Kset.decode(window, 0);
      int index = base.ksets.size();
      base.ksets.add(new LoggedKset(index, at, k.size(), k));
      base.logBytes += k.size();
      segs.set(seg);
      for (KeyRecord key : k.keys()) {
        MemorySegment data = Arena.ofAuto().allocate(Integer.toUnsignedLong(key.len()), 8);
        MemorySegment.copy(work, Layout.dataOffset(key.segId(), key.segOff()), data, 0, data.byteSize());
        base.keys.add(new LoggedKey(index, key, data));
        segs.set(key.segId());
      }
      if (k.last()) {
        seg = k.nextSegId();
        off = 0;
      } else {
        off += k.size();
      }
    }
    int nSegs = (int) Layout.segmentsFor(MEDIA_SIZE);
    base.unusedSegment = segs.previousClearBit(nSegs - 1);
  }

  static CachePos latestPos(MemorySegment img, long base) {
    CachePos best = null;
    for (int i = 0; i < Layout.META_INDEX_MAX; i++) {
      long at = base + (long) i * Layout.POS_STRUCT_SIZE;
      if (img.get(U32, at) != Meta.crc(img, at, Layout.POS_STRUCT_SIZE)) {
        continue;
      }
      CachePos p = CachePos.decode(img, at);
      if (best == null || Meta.seqAfter(p.seq(), best.seq())) {
        best = p;
      }
    }
    return best;
  }

  /** Saves the non-zero pages of {@link #work} as runs. */
  static void saveRuns(Base base) {
    MemorySegment zero = Arena.ofAuto().allocate(PAGE, 8);
    long runStart = -1;
    for (long off = 0; off <= MEDIA_SIZE; off += PAGE) {
      boolean nonZero = off < MEDIA_SIZE && MemorySegment.mismatch(work, off, off + PAGE, zero, 0, PAGE) >= 0;
      if (nonZero && runStart < 0) {
        runStart = off;
      } else if (!nonZero && runStart >= 0) {
        MemorySegment data = Arena.ofAuto().allocate(off - runStart, 8);
        MemorySegment.copy(work, runStart, data, 0, off - runStart);
        base.runs.add(new long[] {runStart, off - runStart});
        base.runData.add(data);
        runStart = -1;
      }
    }
  }

  /** Restores {@code [off, off + len)} of {@link #work} to the base image. */
  static void restore(Base base, long off, long len) {
    long end = Math.min(MEDIA_SIZE, off + len);
    work.asSlice(off, end - off).fill((byte) 0);
    for (int i = 0; i < base.runs.size(); i++) {
      long[] run = base.runs.get(i);
      long from = Math.max(off, run[0]);
      long to = Math.min(end, run[0] + run[1]);
      if (from < to) {
        MemorySegment.copy(base.runData.get(i), from - run[0], work, from, to - from);
      }
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Cases

  /** One corruption: a structure, a field (media range) in it, and a kind. */
  record Site(String structure, long off, int len, Kind kind, boolean cut) {}

  static final Kind[] FIELD_KINDS = {Kind.BIT_FLIP, Kind.RANDOM_BYTE, Kind.ZERO_WORD};
  static final Kind[] SECTOR_KINDS = {Kind.ZERO_SECTOR, Kind.RANDOM_SECTOR};

  static List<Site> sites(Base base, SplittableRandom r) {
    List<Site> s = new ArrayList<>();
    // Superblock: crc, flags, magic, seg_num, pad; each with two kinds, and the sector.
    int[][] sb = {{0, 4}, {4, 4}, {8, 8}, {16, 4}, {20, 4}};
    for (int[] f : sb) {
      for (Kind k : twoOf(FIELD_KINDS, r)) {
        s.add(new Site("superblock", Layout.SB_OFF + f[0], f[1], k, false));
      }
    }
    s.add(new Site("superblock", Layout.SB_OFF, Layout.SB_STRUCT_SIZE, Kind.ZERO_SECTOR, false));
    s.add(new Site("superblock", Layout.SB_OFF, Layout.SB_STRUCT_SIZE, Kind.RANDOM_SECTOR, false));
    // cache_info replicas: crc, seq, version, seg_id, n_segs, flags.
    int[][] ci = {{0, 4}, {4, 1}, {5, 1}, {8, 4}, {12, 4}, {16, 4}};
    for (int rep = 0; rep < 2; rep++) {
      long at = Layout.CACHE_INFO_OFF + rep * Layout.CACHE_INFO_SIZE;
      for (int[] f : ci) {
        s.add(new Site("cache_info[" + rep + "]", at + f[0], f[1], pick(FIELD_KINDS, r), false));
      }
      s.add(new Site("cache_info[" + rep + "]", at, Layout.CACHE_INFO_STRUCT_SIZE, pick(SECTOR_KINDS, r), false));
    }
    // cache_ctrl: key_tail and dirty_tail replicas (crc, seq, seg_id, seg_off), both replicas, the sector.
    int[][] pos = {{0, 4}, {4, 1}, {8, 4}, {12, 4}};
    String[] items = {"key_tail", "dirty_tail"};
    for (int item = 0; item < 2; item++) {
      long itemOff = Layout.CACHE_CTRL_OFF + item * 2L * Layout.POS_STRUCT_SIZE;
      for (int rep = 0; rep < 2; rep++) {
        for (int[] f : pos) {
          s.add(new Site(items[item] + "[" + rep + "]", itemOff + rep * Layout.POS_STRUCT_SIZE + f[0], f[1],
              pick(FIELD_KINDS, r), false));
        }
      }
      s.add(new Site(items[item] + "[both]", itemOff, 2 * Layout.POS_STRUCT_SIZE, Kind.ZERO_SECTOR, false));
    }
    s.add(new Site("cache_ctrl sector", Layout.CACHE_CTRL_OFF, SECTOR, Kind.RANDOM_SECTOR, false));
    // segment_info and seg_gen: a data segment in use, the kset segment of key_tail, an unused one.
    LoggedKey dataKey = base.keys.get(base.keys.size() / 2);
    int ksetSeg = (int) ((base.ksets.get(0).mediaOff() - Layout.SEGMENTS_OFF) / Layout.SEG_SIZE);
    int[][] segs = {{dataKey.key().segId(), 0}, {ksetSeg, 1}, {base.unusedSegment, 2}};
    String[] segKinds = {"data seg", "kset seg", "unused seg"};
    int[][] si = {{0, 4}, {4, 1}, {8, 4}, {12, 4}};
    int[][] gen = {{0, 4}, {4, 1}, {8, 8}};
    for (int[] seg : segs) {
      long segOff = Layout.segmentOffset(seg[0]);
      for (int rep = 0; rep < 2; rep++) {
        for (int[] f : si) {
          s.add(new Site("segment_info[" + rep + "] " + segKinds[seg[1]], segOff + rep * Layout.SEG_INFO_SIZE + f[0],
              f[1], pick(FIELD_KINDS, r), false));
        }
        for (int[] f : gen) {
          s.add(new Site("seg_gen[" + rep + "] " + segKinds[seg[1]],
              segOff + Layout.SEG_CTRL_OFF + rep * Layout.SEG_GEN_STRUCT_SIZE + f[0], f[1], pick(FIELD_KINDS, r), false));
        }
      }
    }
    // Ksets: headers and every key field at the first, middle and last normal kset; the LAST ksets.
    List<LoggedKset> normal = base.ksets.stream().filter(k -> !k.kset().last()).toList();
    Map<String, LoggedKset> at = new TreeMap<>();
    at.put("first", normal.get(0));
    at.put("middle", normal.get(normal.size() / 2));
    at.put("last", normal.get(normal.size() - 1));
    int[][] header = {{0, 4}, {4, 4}, {8, 8}, {16, 8}};
    int[][] key = {{0, 8}, {8, 4}, {12, 4}, {16, 4}, {20, 4}, {24, 8}, {32, 4}, {36, 4}};
    for (Map.Entry<String, LoggedKset> e : at.entrySet()) {
      LoggedKset k = e.getValue();
      for (int[] f : header) {
        for (Kind kind : twoOf(FIELD_KINDS, r)) {
          s.add(new Site("kset header " + e.getKey(), k.mediaOff() + f[0], f[1], kind, false));
        }
      }
      int n = k.kset().keys().size();
      for (int[] f : key) {
        long keyAt = k.mediaOff() + Layout.KSET_HEADER_SIZE + (long) r.nextInt(n) * Layout.KEY_SIZE;
        s.add(new Site("key " + e.getKey(), keyAt + f[0], f[1], pick(FIELD_KINDS, r), false));
      }
      for (Kind kind : SECTOR_KINDS) {
        s.add(new Site("kset sector " + e.getKey(), k.mediaOff() + r.nextInt(k.size()), 1, kind, false));
      }
    }
    for (LoggedKset k : base.ksets) {
      if (k.kset().last()) {
        for (int[] f : header) {
          s.add(new Site("LAST kset", k.mediaOff() + f[0], f[1], pick(FIELD_KINDS, r), false));
        }
        s.add(new Site("LAST kset", k.mediaOff() + 4, 4, Kind.BIT_FLIP, false));
      }
    }
    // The same middle-kset damage again, opened with RecoverLog.CUT.
    LoggedKset middle = at.get("middle");
    s.add(new Site("kset header middle [CUT]", middle.mediaOff() + 8, 8, Kind.ZERO_WORD, true));
    s.add(new Site("kset header middle [CUT]", middle.mediaOff(), 4, Kind.BIT_FLIP, true));
    s.add(new Site("key middle [CUT]", middle.mediaOff() + Layout.KSET_HEADER_SIZE + 8, 4, Kind.RANDOM_BYTE, true));
    // Data of dirty extents (the zero extent of the discards included).
    for (int i = 0; i < 8; i++) {
      LoggedKey k = base.keys.get(r.nextInt(base.keys.size()));
      long dataAt = Layout.dataOffset(k.key().segId(), k.key().segOff());
      s.add(new Site("data", dataAt + r.nextLong(Integer.toUnsignedLong(k.key().len())), 1, Kind.values()[r.nextInt(5)],
          false));
    }
    return s;
  }

  static Kind pick(Kind[] kinds, SplittableRandom r) {
    return kinds[r.nextInt(kinds.length)];
  }

  static Kind[] twoOf(Kind[] kinds, SplittableRandom r) {
    int a = r.nextInt(kinds.length);
    int b = (a + 1 + r.nextInt(kinds.length - 1)) % kinds.length;
    return new Kind[] {kinds[a], kinds[b]};
  }

  /**
   * Applies a corruption to {@link #work}; returns the changed range {@code [from, to)}, or null
   * when it changed nothing.
   */
  static long[] corrupt(Site site, SplittableRandom r) {
    long from;
    long to;
    switch (site.kind()) {
      case BIT_FLIP, RANDOM_BYTE -> {
        from = site.off() + r.nextInt(site.len());
        to = from + 1;
      }
      case ZERO_WORD -> {
        from = (site.off() + r.nextInt(site.len())) & ~7L;
        to = from + 8;
      }
      default -> {
        from = site.off() & ~(SECTOR - 1L);
        to = from + SECTOR;
      }
    }
    MemorySegment before = Arena.ofAuto().allocate(to - from, 8);
    MemorySegment.copy(work, from, before, 0, to - from);
    MemorySegment target = work.asSlice(from, to - from);
    switch (site.kind()) {
      case BIT_FLIP -> target.set(ValueLayout.JAVA_BYTE, 0, (byte) (target.get(ValueLayout.JAVA_BYTE, 0) ^ (1 << r.nextInt(8))));
      case RANDOM_BYTE -> target.set(ValueLayout.JAVA_BYTE, 0,
          (byte) (target.get(ValueLayout.JAVA_BYTE, 0) ^ (1 + r.nextInt(255))));
      case ZERO_WORD, ZERO_SECTOR -> target.fill((byte) 0);
      case RANDOM_SECTOR -> {
        for (long i = 0; i < target.byteSize(); i += 8) {
          target.set(WORD, i, r.nextLong());
        }
      }
    }
    return before.mismatch(target) < 0 ? null : new long[] {from, to};
  }

  // -----------------------------------------------------------------------------------------------
  // Running a case

  /** Media that records every write the engine makes, so that the case can be undone cheaply. */
  static final class TrackingMedia implements CacheMedia {
    final MemoryMedia media;
    final List<long[]> writes = new ArrayList<>();

    TrackingMedia(MemoryMedia media) {
      this.media = media;
    }

    @Override
    public String name() {
      return media.name();
    }

    @Override
    public long size() {
      return media.size();
    }

    @Override
    public PersistenceDomain persistenceDomain() {
      return media.persistenceDomain();
    }

    @Override
    public void read(long offset, MemorySegment dst) {
      media.read(offset, dst);
    }

    @Override
    public void write(long offset, MemorySegment src) {
      synchronized (writes) {
        writes.add(new long[] {offset, src.byteSize()});
      }
      media.write(offset, src);
    }

    @Override
    public void persist(long offset, long length) {
      media.persist(offset, length);
    }

    @Override
    public MemorySegment mapping() {
      return media.mapping().asReadOnly();
    }

    @Override
    public void close() {
      media.close();
    }
  }

  /** What the engine served: per sector, OK (and then the data in {@code served}) or failed. */
  static final class Served {
    final MemorySegment data = Arena.ofAuto().allocate(BACKING_SIZE, 4096);
    final BitSet failed = new BitSet(SECTORS);
  }

  void runCases(Base base, SplittableRandom r, Results results) throws Exception {
    restore(base, 0, MEDIA_SIZE);
    for (Site site : sites(base, r)) {
      long[] damage = corrupt(site, r);
      if (damage == null) {
        continue;
      }
      TrackingMedia media = new TrackingMedia(new MemoryMedia(NAME, work));
      try {
        Outcome o = runCase(base, site, damage, media, results);
        results.add(site.structure(), o);
      } finally {
        synchronized (media.writes) {
          for (long[] w : media.writes) {
            restore(base, w[0], w[1]);
          }
        }
        restore(base, damage[0], damage[1] - damage[0]);
      }
    }
    // The cheap restore must give the clean image back: compare it with a full one, run by run.
    for (int i = 0; i < base.runs.size(); i++) {
      long[] run = base.runs.get(i);
      if (MemorySegment.mismatch(work, run[0], run[0] + run[1], base.runData.get(i), 0, run[1]) >= 0) {
        throw new AssertionError(base.name + ": restoring the image after each case left a difference near " + run[0]);
      }
    }
  }

  Outcome runCase(Base base, Site site, long[] damage, TrackingMedia media, Results results) {
    String where = base.name + ": " + site.structure() + " " + site.kind() + " at media offset " + damage[0]
        + (damage[1] - damage[0] > 1 ? "+" + (damage[1] - damage[0]) : "");
    // The offline check.
    boolean flagged;
    String checkSays;
    try {
      Inspector.Report report = new Inspector(media).inspect(true, null);
      flagged = !report.ok();
      checkSays = flagged ? report.problems().get(0) : "ok";
    } catch (IOException e) {
      flagged = true;
      checkSays = "refused: " + e.getMessage();
    } catch (RuntimeException e) {
      results.failures.add("UNEXPECTED " + where + ": the inspector threw " + e);
      return Outcome.UNEXPECTED;
    }
    // The engine, over the backing device as it was at close.
    backingWork.copyFrom(base.backing);
    MemoryBacking backing = new MemoryBacking("mem:backing", backingWork);
    // A byte copy of the backing device the cache was written for, in other memory: for the
    // identity check (BackingBinding) another device, which is what --backing-changed accept is for.
    EngineOptions options = options(base.dataCrc).withKsetFlushDelay(Duration.ofSeconds(1)).withAcceptBackingChange(true);
    if (site.cut()) {
      options = options.withRecoverLog(EngineOptions.RecoverLog.CUT);
    }
    CacheEngine engine;
    try {
      engine = CacheEngine.open(media, backing, options, new TestPolicy(70));
    } catch (IOException e) {
      if (e.getMessage() == null || !e.getMessage().contains(NAME)) {
        results.failures.add("UNEXPECTED " + where + ": open refused without naming the device: " + e);
        return Outcome.UNEXPECTED;
      }
      if (site.cut()) {
        results.failures.add("UNEXPECTED " + where + ": with RecoverLog.CUT the engine did not start: " + e.getMessage());
        return Outcome.UNEXPECTED;
      }
      return Outcome.REFUSED;
    } catch (RuntimeException e) {
      results.failures.add("UNEXPECTED " + where + ": open threw " + e);
      return Outcome.UNEXPECTED;
    }
    try {
      if (engine.replayReport().formatted()) {
        results.failures.add("SILENT WRONG " + where + ": the cache was formatted over (its dirty data is gone);"
            + " check said: " + checkSays);
        return Outcome.SILENT_WRONG;
      }
      Served served = readAll(engine);
      Outcome o = classify(base, site, damage, served, where, flagged, checkSays, results);
      if (!o.failure()) {
        String wb = drainAndCompare(engine, backing, served);
        if (wb != null) {
          results.failures.add("SILENT WRONG " + where + ": " + wb);
          return Outcome.SILENT_WRONG;
        }
      }
      return o;
    } catch (IOException | RuntimeException e) {
      results.failures.add("UNEXPECTED " + where + ": " + e);
      return Outcome.UNEXPECTED;
    } finally {
      try {
        engine.close();
      } catch (IOException | RuntimeException e) {
        // the outcome is decided; a failing close of a damaged cache is not the point here
      }
    }
  }

  /** Reads the whole device in 1 MiB pieces, and a failing piece sector by sector. */
  static Served readAll(CacheEngine engine) {
    Served s = new Served();
    long piece = 1L << 20;
    for (long off = 0; off < BACKING_SIZE; off += piece) {
      try {
        engine.read(off, s.data.asSlice(off, piece));
      } catch (IOException e) {
        for (long o = off; o < off + piece; o += SECTOR) {
          try {
            engine.read(o, s.data.asSlice(o, SECTOR));
          } catch (IOException e2) {
            s.failed.set((int) (o / SECTOR));
          }
        }
      }
    }
    return s;
  }

  Outcome classify(Base base, Site site, long[] damage, Served served, String where, boolean flagged,
      String checkSays, Results results) {
    BitSet wrong = new BitSet(SECTORS);
    for (int s = 0; s < SECTORS; s++) {
      long off = (long) s * SECTOR;
      if (!served.failed.get(s) && MemorySegment.mismatch(served.data, off, off + SECTOR, base.expected, off, off + SECTOR) >= 0) {
        wrong.set(s);
      }
    }
    // The ksets whose bytes were damaged, and the keys whose data was.
    int firstDamaged = -1;
    int lastDamaged = -1;
    for (LoggedKset k : base.ksets) {
      if (k.mediaOff() < damage[1] && damage[0] < k.mediaOff() + k.size()) {
        firstDamaged = firstDamaged < 0 ? k.index() : firstDamaged;
        lastDamaged = k.index();
      }
    }
    BitSet damagedExtents = new BitSet(SECTORS);
    for (LoggedKey k : base.keys) {
      long at = Layout.dataOffset(k.key().segId(), k.key().segOff());
      if (at < damage[1] && damage[0] < at + k.data().byteSize()) {
        damagedExtents.set((int) (k.key().off() / SECTOR), (int) (k.key().end() / SECTOR));
      }
    }
    if (wrong.isEmpty() && served.failed.isEmpty()) {
      return flagged ? Outcome.FLAGGED_EXACT : Outcome.EXACT;
    }
    Outcome o;
    if (!wrong.isEmpty()) {
      // Without data CRCs a randomised byte of the last kset cannot be told from a torn write with
      // the margin the engine needs (LogTail#damagedByte looks for single flipped bits there).
      boolean tail = lastDamaged == base.ksets.size() - 1 && firstDamaged >= 0
          && (site.kind() == Kind.ZERO_WORD || site.kind() == Kind.ZERO_SECTOR || site.kind() == Kind.RANDOM_SECTOR
              || (!base.dataCrc && site.kind() == Kind.RANDOM_BYTE));
      if ((site.cut() || tail) && firstDamaged >= 0 && served.failed.isEmpty()
          && olderButConsistent(base, firstDamaged, served, wrong)) {
        o = site.cut() ? Outcome.CUT_ACCEPTED : Outcome.LOST_AT_TAIL;
      } else if (!base.dataCrc && site.structure().equals("data") && damagedExtents.get(wrong.nextSetBit(0))) {
        BitSet outside = (BitSet) wrong.clone();
        outside.andNot(damagedExtents);
        if (!outside.isEmpty()) {
          results.failures.add("SILENT WRONG " + where + ": " + describe(base, served, outside.nextSetBit(0), outside));
          return Outcome.SILENT_WRONG;
        }
        return Outcome.UNDETECTABLE;
      } else {
        results.failures.add("SILENT WRONG " + where + ": " + describe(base, served, wrong.nextSetBit(0), wrong)
            + "; check said: " + checkSays);
        return Outcome.SILENT_WRONG;
      }
    } else {
      BitSet beyond = (BitSet) served.failed.clone();
      beyond.andNot(damagedExtents);
      if (!beyond.isEmpty()) {
        int s = beyond.nextSetBit(0);
        results.failures.add("EIO beyond damage " + where + ": " + beyond.cardinality() + " sectors fail outside the"
            + " damaged extents, the first at byte " + (long) s * SECTOR);
        return Outcome.EIO_BEYOND;
      }
      o = Outcome.EIO_ON_DAMAGE;
    }
    if (!flagged && o != Outcome.LOST_AT_TAIL) {
      results.failures.add("CHECK MISSED " + where + ": the engine " + (o == Outcome.EIO_ON_DAMAGE ? "fails reads of "
          + served.failed.cardinality() + " sectors" : "cut the log (" + wrong.cardinality() + " sectors older)")
          + " but the inspector reported no problem");
      return Outcome.CHECK_MISSED;
    }
    return o;
  }

  /** Whether every wrong sector was written by a key at or after {@code cut} and holds what the log without those ksets gives. */
  static boolean olderButConsistent(Base base, int cut, Served served, BitSet wrong) {
    BitSet allowed = base.writtenFrom(cut);
    MemorySegment model = base.model(cut);
    for (int s = wrong.nextSetBit(0); s >= 0; s = wrong.nextSetBit(s + 1)) {
      long off = (long) s * SECTOR;
      if (!allowed.get(s) || MemorySegment.mismatch(served.data, off, off + SECTOR, model, off, off + SECTOR) >= 0) {
        return false;
      }
    }
    return true;
  }

  static String describe(Base base, Served served, int s, BitSet wrong) {
    long off = (long) s * SECTOR;
    long at = off + MemorySegment.mismatch(served.data, off, off + SECTOR, base.expected, off, off + SECTOR);
    long readTag = SectorTags.tagOf(served.data, off, s);
    long wantTag = SectorTags.tagOf(base.expected, off, s);
    return wrong.cardinality() + " sectors read wrong; the first differing byte is " + at + " (sector " + s
        + "): read " + (readTag == SectorTags.GARBAGE ? "garbage " + SectorTags.describe(served.data, off)
        : "write " + readTag) + ", expected write " + wantTag;
  }

  /** Drains to the backing device; returns what is wrong when it does not hold what was served, else null. */
  static String drainAndCompare(CacheEngine engine, MemoryBacking backing, Served served) throws IOException {
    long mark = engine.drainMark();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!engine.writtenBack(mark)) {
      if (System.nanoTime() > deadline) {
        return null; // a writeback that cannot finish (a damaged extent it will not write) is not wrong data
      }
      Thread.onSpinWait();
    }
    MemorySegment dev = backing.memory();
    for (int s = 0; s < SECTORS; s++) {
      long off = (long) s * SECTOR;
      if (!served.failed.get(s) && MemorySegment.mismatch(dev, off, off + SECTOR, served.data, off, off + SECTOR) >= 0) {
        return "after writeback, backing sector " + s + " holds write " + SectorTags.tagOf(dev, off, s)
            + " but the engine served write " + SectorTags.tagOf(served.data, off, s);
      }
    }
    return null;
  }

  /** Counts per structure and outcome, and the failures. */
  static final class Results {
    final Map<String, EnumMap<Outcome, Integer>> counts = new TreeMap<>();
    final List<String> failures = new ArrayList<>();
    int cases;

    void add(String structure, Outcome o) {
      cases++;
      counts.computeIfAbsent(structure, k -> new EnumMap<>(Outcome.class)).merge(o, 1, Integer::sum);
    }

    String table() {
      StringBuilder b = new StringBuilder(String.format("%-32s", "structure"));
      for (Outcome o : Outcome.values()) {
        b.append(String.format(" %" + Math.max(6, o.label.length()) + "s", o.label));
      }
      b.append('\n');
      for (Map.Entry<String, EnumMap<Outcome, Integer>> e : counts.entrySet()) {
        b.append(String.format("%-32s", e.getKey()));
        for (Outcome o : Outcome.values()) {
          b.append(String.format(" %" + Math.max(6, o.label.length()) + "d", e.getValue().getOrDefault(o, 0)));
        }
        b.append('\n');
      }
      return b.toString();
    }
  }
}
