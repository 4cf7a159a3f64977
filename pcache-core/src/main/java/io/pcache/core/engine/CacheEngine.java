package io.pcache.core.engine;

import io.pcache.api.BlockDevice;
import io.pcache.api.BlockIOException;
import io.pcache.api.BlockIOException.Errno;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.gc.CacheUsage;
import io.pcache.api.gc.GcPolicy;
import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.PersistenceDomain;
import io.pcache.core.format.CacheInfo;
import io.pcache.core.format.Crc32c;
import io.pcache.core.format.KeyRecord;
import io.pcache.core.format.Layout;
import io.pcache.core.format.Replicas;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The cache: dm-pcache's engine over a {@link CacheMedia} and a {@link BackingDevice}, served as
 * a {@link BlockDevice}.
 *
 * <h2>Request path</h2>
 *
 * Every request is cut into pieces that end at 4 MiB stripe boundaries; each piece takes only its
 * stripe's lock (no global lock on the I/O path).
 *
 * <ul>
 *   <li><b>Write</b>: space from a data head (the piece may be shortened at a segment end and the
 *       rest allocated again), the data copied into the cache and persisted, then under the
 *       stripe lock the key appended to its kset (closing it at once for FUA) and only then
 *       inserted into the index. Appending first means a failed append changes nothing: older
 *       keys are never cut by a key that did not reach the log.
 *   <li><b>Read</b>: under the stripe lock a plan of hits, misses and pending misses is made and
 *       placeholders are inserted for the misses; then, without the stripe lock, hits are copied
 *       under their segment's generation lock and misses are read from the backing device into
 *       the caller's buffer and, if their placeholder survived, filled into the cache as clean
 *       keys.
 *   <li><b>Flush</b>: every open kset is closed (the data is already persisted).
 *   <li><b>Discard and write-zeroes</b> (dm-pcache has neither): a range is covered by ordinary
 *       dirty keys that point into a <em>zero extent</em>, a 4 MiB run of zeroes at the start of a
 *       data segment that is never handed out for data. They go through the log like any write,
 *       so (1) later reads hit them and see zeroes, never older cached data; (2) writeback writes
 *       the zeroes in log order, after every older version of the range and before every newer
 *       one, so older data can never be written back over them; (3) replay rebuilds them like any
 *       key; and (4) the media stays readable by the kernel's dm-pcache, which sees plain keys.
 *       A discard of the whole device costs one 40-byte key per 4 MiB. Writeback turns extents
 *       that are all zero into {@link BackingDevice#writeZeroes}.
 * </ul>
 *
 * <h2>Background work</h2>
 *
 * A writeback thread applies closed ksets to the backing device strictly in log order ({@link
 * Writeback}); a GC thread reclaims ksets behind dirty_tail as the {@link GcPolicy} asks ({@link
 * Gc}); a flusher closes ksets that have held keys for {@code ksetFlushDelay}.
 */
public final class CacheEngine implements BlockDevice, AutoCloseable {

  private static final System.Logger LOG = System.getLogger("io.pcache.core.engine");
  private static final int SECTOR = 512;

  final CacheMedia media;
  final BackingDevice backing;
  final EngineOptions options;
  final CacheStats stats = new CacheStats();
  final Segments segments;
  final KeyLog log;
  final KeyIndex index;
  final KsetBuffer[] ksets;
  final DataHeads heads;
  final GcPolicy policy;
  final DataPersister dataPersister;
  private final Replicas<CacheInfo> cacheInfo;
  private final int sbFlags;
  private final long size;
  private final String name;
  private final ReentrantLock zeroLock = new ReentrantLock();
  private volatile CacheSegment zeroSegment;
  private final ScheduledExecutorService flusher;
  /** {@link EngineOptions#ksetFlushDelay}, changeable at run time ({@link #setKsetFlushDelay}). */
  private volatile Duration ksetFlushDelay;
  final Writeback writeback;
  final Gc gc;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final ReplayReport replayReport;
  /**
   * Requests in flight, for close(). A LongAdder, not one atomic integer: with two writer threads
   * a single counter is a cache line that bounces between the cores twice per request. A request
   * counts itself before it reads {@code closed}, and close() sets {@code closed} before it sums,
   * so the sum cannot miss a request that went on.
   */
  private final java.util.concurrent.atomic.LongAdder inFlight = new java.util.concurrent.atomic.LongAdder();

  /**
   * What replay found, for the start-up log line and status.
   *
   * @param badKeys keys whose data CRC did not match
   * @param repairedKsets ksets whose damaged header replay restored from their CRC ({@link LogTail})
   * @param droppedKeys with {@code --recover-log cut}: the keys of the valid ksets after the corrupt
   *     one that were dropped (at least 1 when the log was cut; the corrupt kset's own keys cannot
   *     be counted)
   */
  public record ReplayReport(long ksets, long keys, long staleKeys, long badKeys, long nanos, boolean formatted,
      long repairedKsets, long droppedKeys) {}

  private CacheEngine(CacheMedia media, BackingDevice backing, EngineOptions options, GcPolicy policy, int segNum,
      Replicas<CacheInfo> cacheInfo, boolean formatted) throws IOException {
    this.media = media;
    this.backing = backing;
    this.options = options;
    this.policy = policy;
    this.ksetFlushDelay = options.ksetFlushDelay();
    this.cacheInfo = cacheInfo;
    this.sbFlags = 0;
    this.size = backing.size() / SECTOR * SECTOR;
    this.name = "pcache(" + media.name() + " → " + backing.name() + ")";
    this.gc = new Gc(this);
    this.segments = new Segments(media, segNum, gc::segmentFreed, gc::kick);
    this.log = new KeyLog(media, segments.map(), options.fullWait());
    this.dataPersister = new DataPersister(media);
    log.dataPersister(dataPersister);
    this.index = new KeyIndex(size);
    this.ksets = new KsetBuffer[options.ksets()];
    for (int i = 0; i < ksets.length; i++) {
      ksets[i] = new KsetBuffer(log);
    }
    this.heads = new DataHeads(options.dataHeads(), segments);
    this.writeback = new Writeback(this);
    CacheInfo info = cacheInfo.latest().orElseThrow();
    segments.load(info.segId());
    log.loadTails();
    this.replayReport = new Replay(this).run(formatted);
    ScheduledThreadPoolExecutor exec = new ScheduledThreadPoolExecutor(1, Thread.ofPlatform().daemon()
        .name("pcache-kset-flush").factory());
    exec.setRemoveOnCancelPolicy(true);
    this.flusher = exec;
  }

  /**
   * Opens a cache: formats a blank media, refuses a foreign, corrupt or mismatched one, replays
   * the log, and starts writeback, GC and the kset flusher.
   *
   * @throws IOException with a message that says what was found and what to do
   */
  public static CacheEngine open(CacheMedia media, BackingDevice backing, EngineOptions options, GcPolicy policy)
      throws IOException {
    boolean formatted = false;
    if (CacheFormat.inspect(media) == CacheFormat.State.BLANK) {
      CacheFormat.format(media, options.dataCrc(), percentOf(policy, Layout.GC_PERCENT_DEFAULT));
      formatted = true;
    }
    int segNum = CacheFormat.segNum(media);
    Replicas<CacheInfo> infoReplicas = CacheFormat.cacheInfoReplicas(media);
    CacheInfo info = infoReplicas.load().orElse(null);
    if (info == null || !info.initDone()) {
      // A superblock without a complete cache_info: a first start that never finished (upstream
      // formats again), unless anything says the cache was used: then cached data would be lost.
      List<String> traces = CacheFormat.pcacheTraces(media);
      if (!traces.isEmpty() || CacheFormat.logHoldsKsets(media)) {
        throw new CacheRefusedException("cache " + media.name() + ": cache_info has no valid, complete replica (offsets "
            + Layout.CACHE_INFO_OFF + " and " + (Layout.CACHE_INFO_OFF + Layout.CACHE_INFO_SIZE) + ") but "
            + (traces.isEmpty() ? "the log holds ksets" : String.join(", ", traces)) + ", so it may hold dirty data:"
            + " refusing to reformat it. Nothing was changed. Run 'pcache check --cache " + media.name()
            + "', 'pcache check --repair' to rebuild a damaged replica from its twin, and 'pcache format --force'"
            + " only if its data can go");
      }
      CacheFormat.format(media, options.dataCrc(), percentOf(policy, Layout.GC_PERCENT_DEFAULT));
      formatted = true;
      info = infoReplicas.load().orElseThrow(() -> new IOException("cache " + media.name() + ": cache_info unreadable right after format"));
    }
    if (info.dataCrc() != options.dataCrc()) {
      if (options.dataCrcExplicit()) {
        throw new IOException("cache " + media.name() + " was formatted with data_crc=" + info.dataCrc()
            + " but cache.data-crc=" + options.dataCrc() + " was asked: leave cache.data-crc unset (an existing cache"
            + " keeps its setting), or reformat with 'pcache format --force --cache.data-crc " + options.dataCrc()
            + "' (cached data is lost)");
      }
      options = options.withDataCrcDefault(info.dataCrc()); // the device says; the default was for a new format
    }
    if (info.cacheMode() != 0) {
      throw new IOException("cache " + media.name() + " uses cache mode " + info.cacheMode()
          + "; only writeback (0) is supported, as in dm-pcache");
    }
    if (info.nSegs() <= 0 || info.nSegs() > segNum) {
      throw new IOException("cache " + media.name() + ": cache_info says " + info.nSegs() + " segments but the superblock "
          + segNum + "; the cache is corrupt: reformat with 'pcache format --force'");
    }
    applyGcPercent(policy, info, options, infoReplicas);
    CacheEngine engine = new CacheEngine(media, backing, options, policy, info.nSegs(), infoReplicas, formatted);
    if (!BackingBinding.bind(engine)) {
      return open(media, backing, options, policy); // it held another backing device's clean data: formatted again
    }
    // As upstream's step 8: rewrite cache_info (INIT_DONE) after a successful start, which also
    // refreshes the older replica.
    infoReplicas.update(infoReplicas.latest().orElseThrow());
    engine.writeback.start();
    engine.gc.start();
    return engine;
  }

  private static int percentOf(GcPolicy policy, int fallback) {
    String p = policy.parameters().get("percent");
    return p == null ? fallback : Integer.parseInt(p);
  }

  private static void applyGcPercent(GcPolicy policy, CacheInfo info, EngineOptions options,
      Replicas<CacheInfo> replicas) throws IOException {
    if (!policy.parameters().containsKey("percent")) {
      return;
    }
    if (options.gcPercentExplicit()) {
      int wanted = percentOf(policy, info.gcPercent());
      if (wanted != info.gcPercent()) {
        replicas.update(info.withGcPercent(wanted));
      }
    } else {
      policy.setParameter("percent", Integer.toString(Math.min(info.gcPercent(), Layout.GC_PERCENT_MAX)));
    }
  }

  /** Changes the GC percentage at run time and persists it in cache_info (dm-pcache's message). */
  public synchronized void setGcPercent(int percent) throws IOException {
    if (percent < Layout.GC_PERCENT_MIN || percent > Layout.GC_PERCENT_MAX) {
      throw new IllegalArgumentException("gc_percent " + percent + " is out of range 0-90");
    }
    policy.setParameter("percent", Integer.toString(percent));
    CacheInfo info = cacheInfo.latest().orElseThrow();
    cacheInfo.update(info.withGcPercent(percent));
    gc.kick();
  }

  /** The GC policy in force (its parameters can be changed at run time). */
  public GcPolicy gcPolicy() {
    return policy;
  }

  /** How long an open kset may hold keys now. */
  public Duration ksetFlushDelay() {
    return ksetFlushDelay;
  }

  /**
   * Changes how long an open kset may hold keys (not persisted: the next start takes {@code
   * cache.kset-flush-delay} again, as dm-pcache's fixed 1 s). Open ksets are looked at again at
   * once, so a shorter delay applies to them too.
   *
   * @throws IllegalArgumentException for a negative delay
   */
  public void setKsetFlushDelay(Duration delay) {
    if (delay.isNegative()) {
      throw new IllegalArgumentException("kset flush delay " + delay + " is negative");
    }
    ksetFlushDelay = delay;
    for (KsetBuffer kset : ksets) {
      kset.lock.lock();
      try {
        if (kset.count() > 0) {
          // Replaces the pending delayed close (its token goes stale), so one chain per kset stays.
          kset.flushScheduled = true;
          scheduleFlush(kset, Duration.ZERO, ++kset.flushToken);
        }
      } finally {
        kset.lock.unlock();
      }
    }
  }

  /**
   * Closes every open kset and returns a mark for {@link #writtenBack}: once writeback has passed
   * it, every write acknowledged before this call is on the backing device (dirty_tail moved past
   * it, after a flush of the backing device). Later writes do not move the mark, so a drain under
   * a steady write load still ends. Writeback does not hold dirty data back (its dirty percentage)
   * until the mark is passed.
   */
  public long drainMark() throws BlockIOException {
    flush();
    long mark = log.appendedKsets();
    writeback.drainTo(mark);
    return mark;
  }

  /** Whether writeback has passed {@code mark} from {@link #drainMark}. */
  public boolean writtenBack(long mark) {
    return writeback.passedKsets() >= mark;
  }

  /** Ksets logged but not yet written back, for drain progress. */
  public long dirtyKsets() {
    return Math.max(0, log.appendedKsets() - writeback.passedKsets());
  }

  /** Whether the engine has been closed. */
  public boolean isClosed() {
    return closed.get();
  }

  public ReplayReport replayReport() {
    return replayReport;
  }

  public CacheStats stats() {
    return stats;
  }

  /**
   * Every counter, plus the cache's shape: segments used, keys in the index, writes waiting for
   * space now and how often a write had to wait.
   */
  public java.util.Map<String, Long> counters() {
    java.util.Map<String, Long> m = stats.snapshot();
    SegmentMap map = segments.map();
    m.put("segments_total", (long) map.total());
    m.put("segments_used", (long) map.used());
    m.put("kset_segments", (long) log.ksetSegmentCount());
    m.put("full_waits", map.waits());
    m.put("waiting_writes", (long) map.waiting());
    m.put("index_keys", index.keyCount());
    return m;
  }

  // ---------------------------------------------------------------------------------------------
  // BlockDevice

  @Override
  public String name() {
    return name;
  }

  @Override
  public long size() {
    return size;
  }

  @Override
  public int logicalBlockSize() {
    return SECTOR;
  }

  @Override
  public int physicalBlockSize() {
    return 4096;
  }

  @Override
  public Set<Feature> features() {
    return EnumSet.allOf(Feature.class);
  }

  private void check(long offset, long length) throws BlockIOException {
    if (closed.get()) {
      throw new BlockIOException(Errno.ESHUTDOWN, name, offset, length, "cache is closed");
    }
    BlockIOException.checkRange(name, size, offset, length);
    if (offset % SECTOR != 0 || length % SECTOR != 0) {
      throw new BlockIOException(Errno.EINVAL, name, offset, length, "request not aligned to " + SECTOR + " bytes");
    }
  }

  private void enter() throws BlockIOException {
    inFlight.increment();
    if (closed.get()) {
      inFlight.decrement();
      throw new BlockIOException(Errno.ESHUTDOWN, name, 0, 0, "cache is closed");
    }
  }

  private void exit() {
    inFlight.decrement();
  }

  static long pieceEnd(long off, long end) {
    return Math.min(end, (off | (Layout.SUBTREE_SIZE - 1)) + 1);
  }

  /**
   * The longest extent one written key covers when the cache keeps data CRCs: a cache hit checks
   * the CRC of the whole extent it reads from, so a 4 KiB read from a 1 MiB extent cost 35 µs
   * and from a 64 KiB extent 4 µs (BENCHMARKS.md, "Data CRCs"). 16 KiB bounds that near 1 µs, for
   * 64 keys (2.5 KiB of log, some 4.5 KiB of index) per MiB written in large requests instead of one.
   */
  static final int CRC_KEY_MAX = 16 * 1024;

  private int writeLimit(int n) {
    return options.dataCrc() ? Math.min(n, CRC_KEY_MAX) : n;
  }

  boolean stale(CacheKey k) {
    return !k.empty() && k.segGen < segments.get(k.segId).gen();
  }

  @Override
  public void write(long offset, MemorySegment src, boolean fua) throws BlockIOException {
    long length = src.byteSize();
    check(offset, length);
    enter();
    try {
      long pos = 0;
      while (pos < length) {
        long o = offset + pos;
        int n = writeLimit((int) (pieceEnd(o, offset + length) - o));
        pos += writePiece(o, src.asSlice(pos, n), fua);
      }
      stats.writes.increment();
      stats.writeBytes.add(length);
      if (fua) {
        stats.fuaWrites.increment();
      }
    } finally {
      exit();
    }
  }

  /** Writes a prefix of one stripe piece; returns how many bytes it took. */
  private int writePiece(long off, MemorySegment src, boolean fua) throws BlockIOException {
    int stripe = KeyIndex.stripeOf(off);
    DataHeads.Grant g = allocate(stripe, (int) src.byteSize(), off);
    return writeGranted(off, src, fua, g);
  }

  /** Writes a prefix of one stripe piece into space already granted; returns how many bytes it took. */
  private int writeGranted(long off, MemorySegment src, boolean fua, DataHeads.Grant g) throws BlockIOException {
    int n = g.len();
    long at = g.segment().dataOffset + g.segOff();
    MemorySegment data = src.asSlice(0, n);
    try {
      media.write(at, data);
      dataPersister.written(at, n);
    } catch (IOException | RuntimeException e) {
      release(g.segment());
      throw new BlockIOException(Errno.EIO, media.name(), at, n, "cache media write failed: " + e.getMessage(), e);
    }
    int crc = options.dataCrc() ? Crc32c.update(Crc32c.PCACHE_SEED, data, 0, n) : 0;
    insertKey(new CacheKey(off, n, 0, g.segment().id, g.segOff(), g.segment().gen(), crc), fua, false);
    stats.dirtyBytes.add(n);
    return n;
  }

  private DataHeads.Grant allocate(int stripe, int len, long off) throws BlockIOException {
    DataHeads.Grant g = allocate(stripe, len, off, options.fullWait());
    if (g == null) {
      throw new BlockIOException(Errno.EIO, name, off, len, "cache full for " + options.fullWait().toSeconds()
          + " s: no segment was freed (writeback stalled? check the backing device " + backing.name() + ")");
    }
    return g;
  }

  /** Space for {@code len} bytes at backing offset {@code off}, or null when none came within {@code wait}. */
  private DataHeads.Grant allocate(int stripe, int len, long off, Duration wait) throws BlockIOException {
    try {
      return heads.allocate(stripe, len, wait);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BlockIOException(Errno.EIO, name, off, len, "interrupted while waiting for cache space", e);
    } catch (IOException e) {
      throw new BlockIOException(Errno.EIO, name, off, len, "cache media error: " + e.getMessage(), e);
    }
  }

  private void release(CacheSegment s) {
    try {
      segments.put(s);
    } catch (IOException e) {
      LOG.log(System.Logger.Level.ERROR, "cache " + media.name() + ": cannot persist the generation of segment " + s.id
          + ": " + e.getMessage());
    }
  }

  /**
   * Appends a key to its kset and inserts it into the index, both under the stripe lock, in that
   * order. On failure the key's segment reference is dropped and nothing else has changed.
   */
  private void insertKey(CacheKey key, boolean fua, boolean clean) throws BlockIOException {
    Stripe stripe = index.stripe(key.off);
    KsetBuffer kset = ksetFor(key.off);
    KeyRecord record = new KeyRecord(key.off, key.len, clean ? Layout.KEY_F_CLEAN : 0, key.segId, key.segOff,
        key.segGen, key.crc);
    stripe.lock.lock();
    try {
      appendLocked(kset, record, fua);
      stripe.insert(key, this::stale);
    } catch (IOException e) {
      release(segments.get(key.segId));
      throw new BlockIOException(Errno.EIO, name, key.off, key.len, "cannot log the key: " + e.getMessage(), e);
    } finally {
      stripe.lock.unlock();
    }
  }

  KsetBuffer ksetFor(long off) {
    return ksets[Math.floorMod(KeyIndex.stripeOf(off), ksets.length)];
  }

  private void appendLocked(KsetBuffer kset, KeyRecord record, boolean fua) throws IOException {
    kset.lock.lock();
    try {
      boolean wasEmpty = kset.count() == 0;
      boolean closedNow;
      try {
        closedNow = kset.append(record, fua);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while closing a kset", e);
      }
      if (closedNow) {
        stats.ksetsClosed.increment();
        writeback.kick();
      } else if (wasEmpty && !kset.flushScheduled) {
        // One delayed close per kset at a time: the task re-arms itself while the kset keeps
        // getting keys (a task per opening piled up one per 128 writes, each firing a second later
        // to find a younger kset and re-arming: thousands of live tasks under steady writes).
        kset.flushScheduled = true;
        scheduleFlush(kset, ksetFlushDelay, ++kset.flushToken);
      }
    } finally {
      kset.lock.unlock();
    }
  }

  private void scheduleFlush(KsetBuffer kset, Duration delay, long token) {
    if (closed.get()) {
      return;
    }
    try {
      flusher.schedule(() -> flushKset(kset, token), Math.max(1, delay.toMillis()), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // shutting down: close() closes every kset
    }
  }

  /** Delayed kset closes waiting in the flusher (at most one per kset; for tests). */
  int pendingKsetFlushes() {
    return ((ScheduledThreadPoolExecutor) flusher).getQueue().size();
  }

  /** The delayed close of a kset; retried every 100 ms when it fails (as dm-pcache). */
  private void flushKset(KsetBuffer kset, long token) {
    kset.lock.lock();
    try {
      if (token != kset.flushToken) {
        return; // replaced by a newer delayed close (the delay changed)
      }
      if (kset.count() == 0) {
        kset.flushScheduled = false;
        return;
      }
      long age = System.nanoTime() - kset.firstKeyNanos();
      long delay = ksetFlushDelay.toNanos();
      if (age < delay) {
        scheduleFlush(kset, Duration.ofNanos(delay - age), token);
        return;
      }
      kset.close();
      kset.flushScheduled = false;
      stats.ksetsClosed.increment();
      writeback.kick();
    } catch (IOException | RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "cache " + media.name() + ": closing a kset failed, retrying in 100 ms: "
          + e.getMessage());
      scheduleFlush(kset, Duration.ofMillis(100), token);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      kset.lock.unlock();
    }
  }

  @Override
  public void flush() throws BlockIOException {
    if (closed.get()) {
      throw new BlockIOException(Errno.ESHUTDOWN, name, 0, 0, "cache is closed");
    }
    closeAllKsets();
    stats.flushes.increment();
  }

  private void closeAllKsets() throws BlockIOException {
    for (KsetBuffer kset : ksets) {
      kset.lock.lock();
      try {
        if (kset.count() > 0) {
          kset.close();
          stats.ksetsClosed.increment();
        }
      } catch (IOException e) {
        throw new BlockIOException(Errno.EIO, name, 0, 0, "flush: cannot close a kset: " + e.getMessage(), e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new BlockIOException(Errno.EIO, name, 0, 0, "flush interrupted", e);
      } finally {
        kset.lock.unlock();
      }
    }
    writeback.kick();
  }

  // ---------------------------------------------------------------------------------------------
  // Read

  private record Part(long off, int len, CacheKey key, int segId, int segOff, long gen, int crc, int crcSegOff,
      int crcLen, boolean clean, CacheKey placeholder) {

    boolean hit() {
      return segId >= 0;
    }
  }

  @Override
  public void read(long offset, MemorySegment dst) throws BlockIOException {
    long length = dst.byteSize();
    check(offset, length);
    enter();
    try {
      long pos = 0;
      while (pos < length) {
        long o = offset + pos;
        int n = (int) (pieceEnd(o, offset + length) - o);
        readPiece(o, dst.asSlice(pos, n), true);
        pos += n;
      }
      stats.reads.increment();
    } finally {
      exit();
    }
  }

  private void readPiece(long off, MemorySegment dst, boolean fill) throws BlockIOException {
    Stripe stripe = index.stripe(off);
    long end = off + dst.byteSize();
    List<Part> plan = new ArrayList<>();
    stripe.lock.lock();
    try {
      long cur = off;
      for (CacheKey k : stripe.overlapping(off, end, this::stale)) {
        if (k.off > cur) {
          plan.add(miss(stripe, cur, k.off, fill));
          cur = k.off;
        }
        long partEnd = Math.min(k.end(), end);
        int len = (int) (partEnd - cur);
        if (k.empty()) {
          plan.add(new Part(cur, len, null, -1, 0, 0, 0, 0, 0, false, null));
        } else {
          plan.add(new Part(cur, len, k, k.segId, k.segOff + (int) (cur - k.off), k.segGen, k.crc, k.crcSegOff,
              k.crcLen, k.clean(), null));
        }
        cur = partEnd;
      }
      if (cur < end) {
        plan.add(miss(stripe, cur, end, fill));
      }
    } finally {
      stripe.lock.unlock();
    }
    BlockIOException failure = null;
    for (Part p : plan) {
      MemorySegment target = dst.asSlice(p.off() - off, p.len());
      try {
        if (p.hit() && copyHit(p, target, stripe)) {
          stats.readHits.increment();
          stats.readHitBytes.add(p.len());
          continue;
        }
        readBacking(p, target, stripe);
      } catch (BlockIOException e) {
        if (failure == null) {
          failure = e;
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  private Part miss(Stripe stripe, long from, long to, boolean fill) {
    CacheKey ph = null;
    if (fill) {
      ph = CacheKey.placeholder(from, (int) (to - from));
      stripe.insertGap(ph);
    }
    return new Part(from, (int) (to - from), null, -1, 0, 0, 0, 0, 0, false, ph);
  }

  /**
   * Copies a hit under its segment's generation lock. Returns false when the key went stale (its
   * segment was reclaimed after the plan was made: the data is then on the backing device).
   */
  private boolean copyHit(Part p, MemorySegment target, Stripe stripe) throws BlockIOException {
    CacheSegment seg = segments.get(p.segId());
    if (!seg.lockIfCurrent(p.gen())) {
      stats.staleHits.increment();
      return false;
    }
    try {
      if (options.dataCrc()) {
        int actual = Crc32c.update(Crc32c.PCACHE_SEED, media.mapping().byteSize() > 0
            ? media.mapping() : readExtent(seg, p.crcSegOff(), p.crcLen()),
            media.mapping().byteSize() > 0 ? seg.dataOffset + p.crcSegOff() : 0, p.crcLen());
        if (actual != p.crc()) {
          stats.crcErrors.increment();
          long backingOff = p.key().off;
          LOG.log(System.Logger.Level.WARNING, "cache " + media.name() + ": data CRC mismatch on a "
              + (p.clean() ? "clean" : "dirty") + " extent at backing offset " + p.off() + " length " + p.len()
              + " (cache segment " + p.segId() + " offset " + p.crcSegOff() + ", key at " + backingOff + ")"
              + (p.clean() ? "; reading it from " + backing.name() : "; returning EIO"));
          if (p.clean()) {
            stripe.lock.lock();
            try {
              stripe.remove(p.key());
            } finally {
              stripe.lock.unlock();
            }
            return false;
          }
          throw new BlockIOException(Errno.EIO, name, p.off(), p.len(), "cached dirty data failed its CRC check");
        }
      }
      media.read(seg.dataOffset + p.segOff(), target);
      return true;
    } finally {
      seg.unlockRead();
    }
  }

  private MemorySegment readExtent(CacheSegment seg, int segOff, int len) {
    MemorySegment buf = Arena.ofAuto().allocate(len, 8);
    media.read(seg.dataOffset + segOff, buf);
    return buf;
  }

  private void readBacking(Part p, MemorySegment target, Stripe stripe) throws BlockIOException {
    try {
      backing.read(p.off(), target);
    } catch (BlockIOException e) {
      dropPlaceholder(p.placeholder(), stripe);
      throw e;
    } catch (RuntimeException e) {
      dropPlaceholder(p.placeholder(), stripe);
      throw new BlockIOException(Errno.EIO, backing.name(), p.off(), p.len(), "backing read failed: " + e, e);
    }
    stats.readMisses.increment();
    stats.readMissBytes.add(p.len());
    if (p.placeholder() != null) {
      fill(p.placeholder(), target, stripe);
    }
  }

  private void dropPlaceholder(CacheKey ph, Stripe stripe) {
    if (ph == null) {
      return;
    }
    stripe.lock.lock();
    try {
      stripe.remove(ph);
    } finally {
      stripe.lock.unlock();
    }
  }

  /**
   * Fills a completed read miss into the cache if its placeholder is still there and still empty
   * (a write in the meantime deletes it or cuts its back). Never waits for space and never fails
   * the read: on any problem the placeholder is just dropped.
   */
  private void fill(CacheKey ph, MemorySegment data, Stripe stripe) {
    DataHeads.Grant g;
    try {
      g = heads.allocate(KeyIndex.stripeOf(ph.off), ph.len, Duration.ZERO);
    } catch (IOException | InterruptedException e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      g = null;
    }
    if (g == null) {
      dropPlaceholder(ph, stripe);
      return;
    }
    int n = g.len();
    long at = g.segment().dataOffset + g.segOff();
    try {
      media.write(at, data.asSlice(0, n));
      dataPersister.written(at, n);
    } catch (IOException | RuntimeException e) {
      release(g.segment());
      dropPlaceholder(ph, stripe);
      return;
    }
    boolean used = false;
    stripe.lock.lock();
    try {
      if (stripe.contains(ph) && ph.empty() && ph.len > 0) {
        int len = Math.min(n, ph.len);
        int crc = options.dataCrc() ? Crc32c.update(Crc32c.PCACHE_SEED, data, 0, len) : 0;
        CacheKey key = new CacheKey(ph.off, len, CacheKey.CLEAN, g.segment().id, g.segOff(), g.segment().gen(), crc);
        KeyRecord record = new KeyRecord(key.off, len, Layout.KEY_F_CLEAN, key.segId, key.segOff, key.segGen, crc);
        appendLocked(ksetFor(ph.off), record, false);
        stripe.remove(ph);
        stripe.insertGap(key);
        used = true;
        stats.missFills.increment();
      } else {
        stripe.remove(ph);
      }
    } catch (IOException | RuntimeException e) {
      stripe.remove(ph);
    } finally {
      stripe.lock.unlock();
    }
    if (!used) {
      release(g.segment());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Quick variants (BlockDevice.tryRead, tryWrite, tryFlush): what a front-end may run on its I/O
  // thread. Same steps as read, write and flush, minus everything that can wait: a read must be all
  // current hits (no backing read, no placeholder of another read's miss), a write must get space
  // without waiting, and neither a write nor a flush may persist with msync (PAGE_CACHE media).
  // What can still wait: a kset that fills up on a full cache when the log needs a new segment.

  /** Whether a persist may be a system call that waits for a disk (msync of a page-cache file). */
  private boolean slowPersist() {
    return media.persistenceDomain() == PersistenceDomain.PAGE_CACHE;
  }

  @Override
  public boolean tryRead(long offset, MemorySegment dst) throws BlockIOException {
    long length = dst.byteSize();
    check(offset, length);
    enter();
    try {
      long pos = 0;
      int hits = 0;
      while (pos < length) {
        long o = offset + pos;
        int n = (int) (pieceEnd(o, offset + length) - o);
        int h = tryReadPiece(o, dst.asSlice(pos, n));
        if (h < 0) {
          return false;
        }
        hits += h;
        pos += n;
      }
      stats.reads.increment();
      stats.readHits.add(hits);
      stats.readHitBytes.add(length);
      return true;
    } finally {
      exit();
    }
  }

  /** Copies one stripe piece if all of it is current hits; returns how many, or -1 (nothing counted). */
  private int tryReadPiece(long off, MemorySegment dst) throws BlockIOException {
    Stripe stripe = index.stripe(off);
    long end = off + dst.byteSize();
    List<Part> plan = new ArrayList<>(2);
    stripe.lock.lock();
    try {
      long cur = off;
      for (CacheKey k : stripe.overlapping(off, end, this::stale)) {
        if (k.off > cur || k.empty()) {
          return -1; // a miss, or another read's miss in flight
        }
        long partEnd = Math.min(k.end(), end);
        plan.add(new Part(cur, (int) (partEnd - cur), k, k.segId, k.segOff + (int) (cur - k.off), k.segGen, k.crc,
            k.crcSegOff, k.crcLen, k.clean(), null));
        cur = partEnd;
      }
      if (cur < end) {
        return -1;
      }
    } finally {
      stripe.lock.unlock();
    }
    for (Part p : plan) {
      if (!copyHit(p, dst.asSlice(p.off() - off, p.len()), stripe)) {
        return -1; // reclaimed meanwhile, or a clean extent that failed its CRC: read() goes to the backing
      }
    }
    return plan.size();
  }

  @Override
  public boolean tryWrite(long offset, MemorySegment src, boolean fua) throws BlockIOException {
    if (fua || slowPersist()) {
      return false; // closing a kset for FUA persists; on PAGE_CACHE media data and kset persists are msyncs
    }
    long length = src.byteSize();
    check(offset, length);
    enter();
    try {
      long pos = 0;
      while (pos < length) {
        long o = offset + pos;
        int n = writeLimit((int) (pieceEnd(o, offset + length) - o));
        DataHeads.Grant g = allocate(KeyIndex.stripeOf(o), n, o, Duration.ZERO); // no wait, not even for the head's lock
        if (g == null) {
          return false; // the prefix written so far is rewritten by write()
        }
        pos += writeGranted(o, src.asSlice(pos, n), false, g);
      }
      stats.writes.increment();
      stats.writeBytes.add(length);
      return true;
    } finally {
      exit();
    }
  }

  @Override
  public boolean tryFlush() throws BlockIOException {
    if (slowPersist()) {
      return false;
    }
    flush();
    return true;
  }

  @Override
  public void prefetch(long offset, long length) throws BlockIOException {
    check(offset, length);
    enter();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment scratch = arena.allocate(Math.min(length, Layout.SUBTREE_SIZE), 4096);
      long pos = 0;
      while (pos < length) {
        long o = offset + pos;
        int n = (int) (pieceEnd(o, offset + length) - o);
        readPiece(o, scratch.asSlice(0, n), true);
        pos += n;
      }
    } finally {
      exit();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Discard and write-zeroes

  @Override
  public void discard(long offset, long length) throws BlockIOException {
    zeroRange(offset, length, false);
    stats.discards.increment();
    stats.discardBytes.add(length);
  }

  @Override
  public void writeZeroes(long offset, long length, boolean fua) throws BlockIOException {
    zeroRange(offset, length, fua);
    stats.zeroWrites.increment();
    stats.zeroBytes.add(length);
  }

  private void zeroRange(long offset, long length, boolean fua) throws BlockIOException {
    check(offset, length);
    enter();
    try {
      long pos = 0;
      while (pos < length) {
        long o = offset + pos;
        int n = (int) (pieceEnd(o, offset + length) - o);
        CacheSegment z = zeroSegment(o, n);
        z.get();
        int crc = options.dataCrc() ? Crc32c.ofZeros(Crc32c.PCACHE_SEED, n) : 0;
        insertKey(new CacheKey(o, n, 0, z.id, 0, z.gen(), crc), fua, false);
        stats.dirtyBytes.add(n);
        pos += n;
      }
    } finally {
      exit();
    }
  }

  /** The current zero extent: a data segment whose first 4 MiB are zero and stay zero. */
  private CacheSegment zeroSegment(long off, int len) throws BlockIOException {
    CacheSegment z = zeroSegment;
    if (z != null) {
      return z;
    }
    zeroLock.lock();
    try {
      if (zeroSegment == null) {
        CacheSegment seg;
        try {
          seg = segments.allocateData(options.fullWait());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new BlockIOException(Errno.EIO, name, off, len, "interrupted while waiting for cache space", e);
        }
        if (seg == null) {
          throw new BlockIOException(Errno.EIO, name, off, len, "cache full: no segment for the zero extent");
        }
        seg.get(); // held while it is the zero extent
        try (Arena arena = Arena.ofConfined()) {
          MemorySegment zeros = arena.allocate(Layout.SUBTREE_SIZE, 4096);
          media.write(seg.dataOffset, zeros);
          media.persist(seg.dataOffset, Layout.SUBTREE_SIZE);
        } catch (IOException e) {
          release(seg);
          throw new BlockIOException(Errno.EIO, media.name(), seg.dataOffset, Layout.SUBTREE_SIZE,
              "cannot prepare the zero extent: " + e.getMessage(), e);
        }
        zeroSegment = seg;
      }
      return zeroSegment;
    } finally {
      zeroLock.unlock();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Status and life cycle

  /** Used segments, for GC policies and status. */
  CacheUsage usage() {
    SegmentMap map = segments.map();
    int used = map.used();
    int dirty = (int) Math.min(used, (Math.max(0, stats.dirtyBytes.sum()) + Layout.SEG_DATA_SIZE - 1) / Layout.SEG_DATA_SIZE);
    return new CacheUsage(map.total(), used, dirty, map.waiting());
  }

  /**
   * dm-pcache's status line: {@code sb_flags seg_num cache_segs segs_used gc_percent cache_flags
   * key_head dirty_tail key_tail}, for example {@code 0 31 31 1 70 1182 0:0 0:0 0:0}.
   */
  public String statusLine() {
    CacheInfo info = cacheInfo.latest().orElseThrow();
    return Integer.toHexString(sbFlags) + " " + CacheFormat.segNum(media) + " " + info.nSegs() + " "
        + segments.map().used() + " " + info.gcPercent() + " " + Integer.toHexString(info.flags()) + " " + log.head()
        + " " + log.dirtyTail() + " " + log.keyTail();
  }

  /** Whether every dirty byte is on the backing device (key_head == dirty_tail, no open kset). */
  public boolean clean() {
    for (KsetBuffer k : ksets) {
      if (k.count() > 0) {
        return false;
      }
    }
    return log.head().equals(log.dirtyTail());
  }

  public String gcError() { return gc.lastError(); } // hook for status (wt-gcwb, issue #16): Gc.lastError()
  /** Writeback control. */
  public Writeback writeback() {
    return writeback;
  }

  /** The log positions: key_head, dirty_tail, key_tail. */
  public String positions() {
    return "key_head " + log.head() + " dirty_tail " + log.dirtyTail() + " key_tail " + log.keyTail();
  }

  /** Keys in the index. */
  public long keyCount() {
    return index.keyCount();
  }

  /**
   * Shuts down cleanly: refuses new requests, waits for those in flight, closes every open kset,
   * stops writeback and GC, flushes the backing device. Dirty data stays in the cache and is
   * replayed on the next start (as dm-pcache). Does not close the media or the backing device.
   */
  @Override
  public void close() throws IOException {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (inFlight.sum() > 0 && System.nanoTime() < deadline) {
      Thread.onSpinWait();
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    flusher.shutdownNow();
    IOException failure = null;
    try {
      closeAllKsets();
    } catch (BlockIOException e) {
      failure = e;
    }
    writeback.stop();
    gc.stop();
    try {
      backing.flush();
    } catch (IOException e) {
      failure = failure == null ? e : failure;
    }
    if (failure != null) {
      throw failure;
    }
  }
}
