package io.pcache.core.engine;

import io.pcache.api.BlockIOException;
import io.pcache.api.gc.CacheUsage;
import io.pcache.core.format.Crc32c;
import io.pcache.core.format.KeyRecord;
import io.pcache.core.format.Kset;
import io.pcache.core.format.Layout;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes dirty data back to the backing device strictly in log order, so that the backing device
 * always holds a prefix of the write history at batch granularity (dm-pcache's writeback with
 * a batch of one kset).
 *
 * <p>One batch: closed ksets from dirty_tail holding up to {@code writebackBatchKsets} × 128 keys
 * (whole ksets; never past the
 * published key_head). {@link WritebackPlan} turns their keys into the final version of every
 * byte the batch covers (a later key of the batch wins over an earlier one, which is then not
 * written at all), merging pieces adjacent both on the backing device and in the cache into one
 * write; these go out with many writes in flight at once (they never overlap). When every write succeeded,
 * the backing device is flushed and only then dirty_tail is moved past the batch and persisted.
 * If any write or the flush fails, dirty_tail stays, the failure is counted and logged, and the
 * same batch is tried again after a back-off (100 ms doubling to 5 s): nothing is lost or
 * reordered, whatever the backing device does.
 *
 * <p>Extents that are all zero (discards, write-zeroes) become {@code writeZeroes} on the backing
 * device. Clean keys (read-miss fills) are skipped.
 *
 * <h2>Records writeback does not trust (issue #16)</h2>
 *
 * <p>Each record between dirty_tail and key_head is checked as replay checks it ({@link
 * Replay#plausible}, and a generation not ahead of its segment's):
 *
 * <ul>
 *   <li>A <em>stale</em> record (its generation behind its segment's: the segment was reclaimed
 *       and may hold anything now) is not written, as replay drops it.
 *   <li>An <em>impossible</em> record (a segment id beyond the cache, an extent past the backing
 *       device pcache serves or the data area, a generation ahead of its segment's, unknown flags)
 *       or a LAST kset that names no kset segment of the log, or more LAST ksets in a row than the
 *       cache has segments (a loop, as replay limits it): writeback <em>stops</em> before that
 *       kset, latched: logged once at ERROR with the kset's position and media offset, in {@link
 *       #lastError()} (so in {@code pcache status} and a drain), dirty_tail stays, and the dirty
 *       data stays in the cache. It looks again at each retry (back-off up to 5 s).
 *   <li>With data CRCs, a dirty extent whose data fails its CRC is never written (that would
 *       spread corruption) and never skipped (dirty_tail past it would let GC reclaim it, after
 *       which reads return the older data of the backing device instead of EIO): writeback stops
 *       before its kset the same way, naming the backing offset and length and the cache segment
 *       and offset. <b>To go on</b>, the operator rewrites that range (the data is lost; restore it
 *       from elsewhere, or write zeroes or discard it): once later dirty keys of the log cover the
 *       whole extent, the batch that passes the bad extent is extended up to the kset that
 *       completes the cover, so the backing device gets the newer data in the same batch, before
 *       the one flush that lets dirty_tail move; the bad extent is not written and nothing older
 *       shows through. This is pcache's choice: upstream's writeback would write it (it checks
 *       CRCs only in GC and replay). There is no override that skips an extent without a newer
 *       write.
 * </ul>
 *
 * <h2>A backing device that shrinks</h2>
 *
 * <p>An image file can be truncated, a logical volume reduced, while pcache runs; {@link
 * io.pcache.api.backing.BackingDevice#size()} keeps the size at open, and a write past the new
 * end of a file succeeds and extends it again, with holes where its data was. So writeback reads
 * the device's {@link io.pcache.api.backing.BackingDevice#currentSize() current size} before each
 * batch, after its flush and after a failed write, and never writes past it:
 *
 * <ul>
 *   <li>A batch ends before the first kset with a dirty extent past the end. When that is the
 *       first kset, writeback stops there, latched: it writes nothing, dirty_tail stays before
 *       that kset (and so before every later one), and the dirty data stays in the cache, where
 *       reads find it. It looks again at each retry (the back-off below, at most 5 s) and goes on
 *       by itself once the device is large enough again.
 *   <li>A batch after which the device is smaller than the end of what it wrote is not counted:
 *       dirty_tail stays and the batch is written again. (Size alone cannot see a truncation that
 *       a later write of the same batch undid by extending the file to its old end.)
 *   <li>The change is logged once at ERROR, with the sizes and, when writeback stopped, the dirty
 *       bytes and offset range past the end (kept between retries, so each reads only the ksets
 *       logged since); {@link #backingShrink()} says the same for {@code pcache status}; the size
 *       coming back is logged at INFO.
 * </ul>
 *
 * <h2>When: at once, or above a dirty share</h2>
 *
 * <p>With a dirty percentage of 0 (the default) writeback starts as soon as a kset is closed, as
 * dm-pcache's does. With a percentage P ({@code writeback.dirty-percent}; bcache's {@code
 * writeback_percent}, dm-writecache's {@code high_watermark}), writeback holds back while dirty
 * data takes at most P % of the cache's data segments (rounded up to whole segments, as GC
 * policies count it) <em>and</em> the device is busy (a write,
 * discard or write-zeroes in the last {@link #IDLE} second), so a burst that fits is absorbed
 * without writeback taking CPU or backing-device time from it; above P it writes batches until
 * the share is back at P. It holds back for nothing else: once the device has been idle for a
 * second it writes everything back, and a drain ({@link CacheEngine#drainMark}), a write waiting
 * for space, {@link #stop} or a changed setting end the hold at once. The order and the
 * crash-consistency of writeback are the same either way: only when it runs changes. Keep P
 * below the GC percentage: GC can only reclaim what has been written back.
 *
 * <p>Measured through NBD (fio, 4 KiB random writes at queue depth 32 over a 256 MiB span, 2
 * cores, ext4 image on virtio): writeback of each 4 KiB key costs the kernel 10-20 µs of CPU
 * (page cache, ext4 block mapping, then the block layer and the virtio queue at the backing
 * flush), more than the whole NBD request path (8 µs); with writeback at once the client got
 * 45 K writes/s, with writeback held back 56-60 K, as many as {@code nbdkit memory}.
 */
public final class Writeback {

  /** The highest dirty percentage (as dm-pcache's gc_percent). */
  public static final int MAX_DIRTY_PERCENT = 90;
  /** How long without writes makes the device idle, so that writeback writes everything back. */
  static final Duration IDLE = Duration.ofSeconds(1);
  /** How often a holding writeback looks again (kset closes do not wake it). */
  private static final long HOLD_POLL_MS = 20;

  private static final System.Logger LOG = System.getLogger("io.pcache.core.engine");
  private static final long MAX_BACKOFF_MS = 5000;

  private final CacheEngine engine;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wake = lock.newCondition();
  /** Wakes a holding worker ({@link #hold}); kset closes do not signal it. */
  private final Condition holdWake = lock.newCondition();
  private boolean kicked;
  /** Something that ends a hold happened (drain, setting, stop); guarded by {@link #lock}. */
  private boolean nudged;
  private volatile boolean paused;
  private volatile boolean stopping;
  private volatile long rateBytesPerSecond;
  private volatile String lastError;
  private volatile java.time.Instant lastErrorAt;
  /** The stop last logged at ERROR ({@link #stopAt}); worker only. */
  private String stopLogged;
  /** Ksets passed since the engine opened (see {@link KeyLog#appendedKsets}); written by the worker only. */
  private volatile long passedKsets;
  /** Dirty key bytes passed since the engine opened (before coalescing); written by the worker only. */
  private volatile long passedDirtyBytes;
  private Thread thread;
  private final MemorySegment zeros;
  private volatile int dirtyPercent;
  /** Whether the worker is holding dirty data back now (for status). */
  private volatile boolean holding;
  /** The highest {@link CacheEngine#drainMark} asked for: no holding back before it is passed. */
  private final AtomicLong drainTo = new AtomicLong();
  /** {@link #backingShrink()}. */
  private volatile String shrink;
  /** The size and stall last logged ({@link #noteSize}); worker only. */
  private String sizeLogged;
  /** The dirty data past the end found by the last stalled batch; worker only. */
  private PastEnd pastEnd;
  /** Foreground writes last seen by the worker, and when they last changed; worker only. */
  private long lastForeground = -1;
  private long lastForegroundNanos;

  Writeback(CacheEngine engine) {
    this.engine = engine;
    this.rateBytesPerSecond = engine.options.writebackRateBytes();
    this.dirtyPercent = engine.options.writebackDirtyPercent();
    this.zeros = Arena.ofAuto().allocate(Layout.SUBTREE_SIZE, 4096);
  }

  void start() {
    thread = Thread.ofPlatform().daemon().name("pcache-writeback").start(this::loop);
  }

  /** Wakes the worker (a kset was closed). */
  void kick() {
    lock.lock();
    try {
      kicked = true;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Wakes the worker even while it holds back. */
  private void nudge() {
    lock.lock();
    try {
      kicked = true;
      nudged = true;
      wake.signalAll();
      holdWake.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Stops taking new batches (the one in flight completes). */
  public void pause() {
    paused = true;
  }

  public void resume() {
    paused = false;
    kick();
  }

  public boolean paused() {
    return paused;
  }

  /** Limits writeback to {@code bytesPerSecond}; 0 for no limit. */
  public void setRate(long bytesPerSecond) {
    if (bytesPerSecond < 0) {
      throw new IllegalArgumentException("writeback rate must be >= 0, not " + bytesPerSecond);
    }
    this.rateBytesPerSecond = bytesPerSecond;
    kick();
  }

  public long rate() {
    return rateBytesPerSecond;
  }

  /**
   * Lets up to {@code percent} of the cache's data space stay dirty while the device is busy (see
   * the class notes); 0 writes back at once.
   */
  public void setDirtyPercent(int percent) {
    if (percent < 0 || percent > MAX_DIRTY_PERCENT) {
      throw new IllegalArgumentException("writeback dirty percent must be 0.." + MAX_DIRTY_PERCENT + ", not " + percent);
    }
    this.dirtyPercent = percent;
    nudge();
  }

  public int dirtyPercent() {
    return dirtyPercent;
  }

  /** Whether writeback is holding dirty data back now (below its dirty percentage, device busy). */
  public boolean holding() {
    return holding && dirtyPercent > 0;
  }

  /** A drain waits for {@code mark} ({@link #passedKsets}): writeback stops holding back until then. */
  void drainTo(long mark) {
    drainTo.accumulateAndGet(mark, Math::max);
    nudge();
  }

  /**
   * Whether to hold dirty data back now: a dirty percentage is set, no drain or write is waiting,
   * a write came within {@link #IDLE}, and dirty data takes at most the percentage.
   */
  private boolean holdBack() {
    int percent = dirtyPercent;
    if (percent == 0 || stopping || passedKsets < drainTo.get()) {
      return false;
    }
    long now = System.nanoTime();
    long foreground = engine.stats.writes.sum() + engine.stats.discards.sum() + engine.stats.zeroWrites.sum();
    if (foreground != lastForeground) {
      lastForeground = foreground;
      lastForegroundNanos = now;
    }
    if (now - lastForegroundNanos >= IDLE.toNanos()) {
      return false;
    }
    CacheUsage usage = engine.usage(); // what GC policies see: dirty data in whole segments
    return usage.waitingWrites() == 0 && usage.dirtySegments() * 100L <= (long) usage.totalSegments() * percent;
  }

  /**
   * Ksets written back since the engine opened (LAST ksets not counted). Together with {@link
   * CacheEngine#drainMark} it tells when everything logged before a point in time is on the
   * backing device, even while new writes keep coming.
   */
  public long passedKsets() {
    return passedKsets;
  }

  /** Dirty bytes written back since the engine opened, counted per key before coalescing (as {@code dirty_bytes}). */
  public long passedDirtyBytes() {
    return passedDirtyBytes;
  }

  /** The last error writeback met, or null (after a batch that succeeded). */
  public String lastError() {
    return lastError;
  }

  /** When {@link #lastError()} was last set, or null. */
  public java.time.Instant lastErrorAt() {
    return lastError == null ? null : lastErrorAt;
  }

  private void error(String text) {
    lastErrorAt = java.time.Instant.now();
    lastError = text;
  }

  /**
   * Writeback stops before the kset it cannot pass: {@code text} goes to {@link #lastError()}, and
   * to the log at ERROR once (not at every retry). {@code crc} counts a data CRC error once.
   */
  private void stopAt(String text, boolean crc) {
    if (!text.equals(stopLogged)) {
      LOG.log(System.Logger.Level.ERROR, "writeback of " + engine.name() + ": " + text);
      stopLogged = text;
      if (crc) {
        engine.stats.crcErrors.increment();
      }
    }
    error(text);
  }

  /**
   * What writeback last found about a backing device smaller than the size pcache serves (or than
   * the dirty data needs): its sizes, and the dirty bytes and offset range that cannot be written
   * back, if any; null while its size is as it was.
   */
  public String backingShrink() {
    return shrink;
  }

  void stop() {
    stopping = true;
    nudge();
    if (thread != null) {
      try {
        thread.join(30_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void await(long millis) {
    lock.lock();
    try {
      if (!kicked && !stopping) {
        wake.await(millis, java.util.concurrent.TimeUnit.MILLISECONDS);
      }
      kicked = false;
    } catch (InterruptedException e) {
      stopping = true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits {@link #HOLD_POLL_MS} while holding back; kset closes do not wake it (under a flush after
   * every write that would be a wake-up per write), a drain, a setting or {@link #stop} does.
   */
  private void hold() {
    lock.lock();
    try {
      long left = TimeUnit.MILLISECONDS.toNanos(HOLD_POLL_MS);
      while (!stopping && !nudged && left > 0) {
        left = holdWake.awaitNanos(left);
      }
      nudged = false;
    } catch (InterruptedException e) {
      stopping = true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits out a back-off after a failed batch. Unlike {@link #await}, kicks (every kset close, so
   * many per second under load) do not cut it short; only {@link #stop} does. Otherwise a failing
   * backing device would get the whole batch again at every kset close.
   */
  private void backOff(long millis) {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(millis);
    lock.lock();
    try {
      for (long left = deadline - System.nanoTime(); !stopping && left > 0; left = deadline - System.nanoTime()) {
        wake.awaitNanos(left);
      }
      kicked = false;
    } catch (InterruptedException e) {
      stopping = true;
    } finally {
      lock.unlock();
    }
  }

  private void loop() {
    long backoff = 100;
    // Platform threads: a backing device whose calls would pin a virtual thread (JNR, blocking
    // file I/O) hands each call from a virtual thread to a thread of its own, a hand-off per 4 KiB
    // extent that cost more CPU than the copy (measured through NBD: ~75 us of CPU per written
    // block with virtual writers). Idle writers end after 30 s.
    int ioThreads = Math.max(1, engine.options.writebackInFlight() - 1);
    java.util.concurrent.ThreadPoolExecutor pool = new java.util.concurrent.ThreadPoolExecutor(ioThreads, ioThreads, 30,
        java.util.concurrent.TimeUnit.SECONDS, new java.util.concurrent.LinkedBlockingQueue<>(),
        Thread.ofPlatform().daemon().name("pcache-writeback-io-", 0).factory());
    pool.allowCoreThreadTimeOut(true);
    try (ExecutorService io = pool) {
      while (!stopping) {
        if (paused || engine.log.dirtyTail().equals(engine.log.head())) {
          await(paused ? 1000 : 5000);
          continue;
        }
        if (holdBack()) {
          holding = true;
          hold();
          continue;
        }
        holding = false;
        try {
          if (runBatch(io)) {
            backoff = 100;
            lastError = null;
            stopLogged = null;
            engine.gc.kick();
          } else {
            backOff(backoff);
            backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
          }
        } catch (Throwable e) {
          // Every Throwable: an Error from the media (InternalError of a SIGBUS on a full file
          // system) must not end the worker; the batch is retried after the back-off.
          engine.stats.writebackErrors.increment();
          error(e instanceof Error || e.getMessage() == null ? e.toString() : e.getMessage());
          String text = "writeback of " + engine.name() + " failed, retrying in " + backoff + " ms: " + lastError;
          Throwable err = e;
          while (err != null && !(err instanceof Error)) {
            err = err.getCause();
          }
          if (err != null) { // an Error, thrown here or by a write (wrapped): at ERROR, with its trace
            LOG.log(System.Logger.Level.ERROR, text, e);
          } else {
            LOG.log(System.Logger.Level.WARNING, text);
          }
          backOff(backoff);
          backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
        }
      }
    }
  }

  /** One batch; returns true when dirty_tail moved. */
  private boolean runBatch(ExecutorService io) throws IOException {
    LogPos head = engine.log.head();
    LogPos pos = engine.log.dirtyTail();
    // Where the backing device ends now: no extent past it is written (see the class notes).
    long limit = engine.backing.currentSize();
    List<CacheKey> batch = new ArrayList<>();
    MemorySegment buf = Arena.ofAuto().allocate(Layout.KSET_SIZE_MAX, 8);
    int ksets = 0;
    long dirtyPassed = 0;
    List<KeyRecord> badKeys = new ArrayList<>();
    // A batch is writebackBatchKsets ksets' worth of keys: ksets closed early by a FLUSH or FUA hold
    // one or two keys each (an NBD client that flushes after every write), and a batch of 16 of
    // them meant a backing flush per 16-32 writes, which writeback could not keep up with.
    int batchKeys = engine.options.writebackBatchKsets() * Layout.KSET_KEYS_MAX;
    int logged = 0;
    List<CacheKey> ksetKeys = new ArrayList<>();
    List<KeyRecord> ksetBad = new ArrayList<>();
    boolean stopsAtEnd = false;
    // A dirty extent that failed its CRC but that later keys cover: the batch must include every
    // kset up to the one completing the cover (mustKsets), or end before the bad extent's kset
    // (the batch as it was then: safe).
    int mustKsets = 0;
    Safe safe = null;
    int hops = 0;
    MemorySegment scan = null;
    while (!pos.equals(head) && (logged < batchKeys || ksets < mustKsets)) {
      Kset kset = readKset(pos, head, buf);
      String stop = null;
      boolean crcStop = false;
      if (kset.last()) {
        stop = badLast(pos, kset, ++hops);
        if (stop == null) {
          pos = new LogPos(kset.nextSegId(), 0);
          continue;
        }
      }
      ksetKeys.clear();
      ksetBad.clear();
      long ksetDirty = 0;
      boolean pastEnd = false;
      LogPos next = stop == null ? new LogPos(pos.segId(), pos.off() + kset.size()) : null;
      List<KeyRecord> records = stop == null ? kset.keys() : List.of();
      if (stop == null) {
        hops = 0;
      }
      for (int i = 0; i < records.size() && stop == null; i++) {
        KeyRecord k = records.get(i);
        String why = impossible(k);
        if (why != null) {
          stop = "key " + i + " of the kset at " + where(pos) + " cannot be right (" + why + "): " + k
              + "; writeback stopped at dirty_tail " + engine.log.dirtyTail() + " and keeps the dirty data in the cache"
              + " (run 'pcache check')";
          break;
        }
        if (k.clean()) {
          continue;
        }
        if (k.segGen() < engine.segments.get(k.segId()).gen()) {
          continue; // stale: its segment was reclaimed; replay drops it too (and does not count it dirty)
        }
        ksetDirty += k.len();
        if (engine.options.dataCrc() && !crcOk(k)) {
          if (scan == null) {
            scan = Arena.ofAuto().allocate(Layout.KSET_SIZE_MAX, 8);
          }
          int cover = coveredAfter(k, next, head, scan);
          if (cover < 0) {
            stop = crcStop(k, pos);
            crcStop = true;
            break;
          }
          ksetBad.add(k);
          mustKsets = Math.max(mustKsets, ksets + 1 + cover);
          continue;
        }
        pastEnd |= k.off() + k.len() > limit;
        ksetKeys.add(new CacheKey(k.off(), k.len(), 0, k.segId(), k.segOff(), k.segGen(), k.dataCrc()));
      }
      if ((stop != null || pastEnd) && safe != null) {
        // The newer data that covers a bad extent lies beyond what writeback can pass now: end the
        // batch before the bad extent's kset instead, which stops there.
        batch.subList(safe.batch, batch.size()).clear();
        badKeys.subList(safe.bad, badKeys.size()).clear();
        pos = safe.pos;
        ksets = safe.ksets;
        dirtyPassed = safe.dirty;
        logged = safe.logged;
        if (stop != null) {
          stop = crcStop(safe.key, pos) + " (later writes cover it, but writeback cannot reach them: " + stop + ")";
          crcStop = true;
        }
        safe = null;
        mustKsets = 0;
      }
      if (stop != null) {
        if (ksets == 0) {
          stopAt(stop, crcStop);
          return false;
        }
        break; // the next batch starts at this kset and stops there
      }
      if (pastEnd) {
        // Writeback stops before this kset: dirty_tail must not pass data that did not reach the device.
        if (ksets == 0) {
          noteSize(limit, stall(engine.log.dirtyTail(), head, limit, buf));
          return false;
        }
        stopsAtEnd = true; // the next batch stops here and says so
        break;
      }
      if (!ksetBad.isEmpty() && safe == null) {
        safe = new Safe(pos, batch.size(), badKeys.size(), ksets, dirtyPassed, logged, ksetBad.get(0));
      }
      batch.addAll(ksetKeys);
      badKeys.addAll(ksetBad);
      dirtyPassed += ksetDirty;
      logged += Math.max(1, kset.keys().size());
      pos = next;
      ksets++;
      if (ksets >= mustKsets) {
        safe = null;
      }
    }
    if (!stopsAtEnd) {
      noteSize(limit, null);
    }
    List<WritebackPlan.Extent> keys = WritebackPlan.plan(batch, (int) Layout.SUBTREE_SIZE);
    // This thread writes the extents in plan order, taking the next from a shared cursor. Helpers
    // (up to writebackInFlight writers in all) join only while the backing device is slow, so a
    // disk or a network device gets many writes in flight, and a device that completes a write
    // as fast as a memory copy (the page cache, memory) does not pay for waking 63 threads per
    // batch: measured with an in-memory backing device, 4 KiB sustained writes, 2 cores, the
    // helpers took 0.45 of a core for no gain.
    int maxWriters = Math.max(1, Math.min(engine.options.writebackInFlight(), keys.size()));
    java.util.concurrent.atomic.AtomicInteger cursor = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicLong issued = new java.util.concurrent.atomic.AtomicLong();
    long startNanos = System.nanoTime();
    List<Future<?>> writes = new ArrayList<>(maxWriters);
    java.util.concurrent.Callable<Void> helper = () -> {
      for (int i; (i = cursor.getAndIncrement()) < keys.size(); ) {
        WritebackPlan.Extent k = keys.get(i);
        throttle(issued.getAndAdd(k.len()), startNanos);
        writeExtent(k);
      }
      return null;
    };
    IOException failure = null;
    int alone = 0;
    int slow = 0;
    try {
      for (int i; (i = cursor.getAndIncrement()) < keys.size(); ) {
        WritebackPlan.Extent k = keys.get(i);
        throttle(issued.getAndAdd(k.len()), startNanos);
        long t0 = System.nanoTime();
        writeExtent(k);
        if (writes.isEmpty() && maxWriters > 1) {
          alone++;
          slow += slowWrite(System.nanoTime() - t0, k.len()) ? 1 : 0;
          boolean ask = alone <= 16 ? (alone & (alone - 1)) == 0 : alone % 16 == 0;
          if (ask && alone >= 4 && 4 * slow >= 3 * alone) {
            for (int w = 1; w < maxWriters; w++) {
              writes.add(io.submit(helper));
            }
          }
        }
      }
    } catch (Throwable e) {
      // Every Throwable, Errors too: the helpers must be waited for before the next batch, or a
      // stale write of this one could land after a newer write of the next.
      failure = e instanceof IOException io1 ? io1 : new IOException(e.toString(), e);
      cursor.set(keys.size()); // the helpers stop taking extents
    }
    long bytes = 0;
    for (WritebackPlan.Extent k : keys) {
      bytes += k.len();
    }
    for (Future<?> f : writes) {
      try {
        f.get();
      } catch (java.util.concurrent.ExecutionException e) {
        if (failure == null) {
          failure = e.getCause() instanceof IOException io2 ? io2 : new IOException(String.valueOf(e.getCause()), e.getCause());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        failure = new IOException("writeback interrupted", e);
      }
    }
    long end = 0;
    for (WritebackPlan.Extent k : keys) {
      end = Math.max(end, k.end());
    }
    if (failure != null) {
      throw shrankUnder(failure, end);
    }
    engine.backing.flush();
    engine.stats.writebackFlushes.increment();
    long after = engine.backing.currentSize();
    if (after < end) {
      // Shrunk while the batch was written: some of it may be gone. Not counted; the next batch
      // finds the new end and stops there (or writes it all again once the size is back).
      error(engine.backing.name() + " shrank to " + after + " bytes while writeback wrote up to " + end
          + "; that batch is written again");
      return false;
    }
    for (KeyRecord k : badKeys) {
      engine.stats.crcErrors.increment();
      LOG.log(System.Logger.Level.WARNING, "cache " + engine.media.name() + ": dirty extent at backing offset " + k.off()
          + " length " + k.len() + " (cache segment " + k.segId() + " offset " + k.segOff() + ") failed its data CRC;"
          + " later writes cover all of it and were written back in its place");
    }
    engine.log.writeDirtyTail(pos);
    passedDirtyBytes += dirtyPassed;
    passedKsets += ksets;
    engine.stats.dirtyBytes.add(-dirtyPassed);
    engine.stats.writebackKsets.add(ksets);
    engine.stats.writebackKeys.add(batch.size());
    engine.stats.writebackExtents.add(keys.size());
    engine.stats.writebackBytes.add(bytes);
    return true;
  }

  /** The batch as it was before the kset of a bad extent {@code key} that later keys cover. */
  private record Safe(LogPos pos, int batch, int bad, int ksets, long dirty, int logged, KeyRecord key) {}

  /** Why a record cannot be right (as replay's checks), or null. */
  private String impossible(KeyRecord k) {
    if (!Replay.plausible(engine, k)) {
      return "segment id, offsets, length or flags out of range for a cache of " + engine.segments.count()
          + " segments over " + engine.size() + " bytes";
    }
    long gen = engine.segments.get(k.segId()).gen();
    if (k.segGen() > gen) {
      return "generation " + k.segGen() + " ahead of segment " + k.segId() + "'s " + gen;
    }
    return null;
  }

  /** Why writeback cannot follow the LAST kset at {@code pos} (its {@code hops}-th in a row), or null. */
  private String badLast(LogPos pos, Kset kset, int hops) {
    int next = kset.nextSegId();
    if (hops > engine.segments.count()) {
      return "more than " + engine.segments.count() + " LAST ksets in a row, the last at " + where(pos)
          + ": the chain loops; writeback stopped at dirty_tail " + engine.log.dirtyTail() + " (run 'pcache check')";
    }
    if (next == pos.segId() || !engine.segments.valid(next) || !engine.log.ksetSegment(next)) {
      return "the LAST kset at " + where(pos) + " names segment " + Integer.toUnsignedString(next) + ", which is not a"
          + " kset segment of the log; writeback stopped at dirty_tail " + engine.log.dirtyTail() + " (run 'pcache check')";
    }
    return null;
  }

  private static String where(LogPos pos) {
    return pos + " (media offset " + Layout.dataOffset(pos.segId(), pos.off()) + ")";
  }

  private String crcStop(KeyRecord k, LogPos pos) {
    return "dirty extent at backing offset " + k.off() + " length " + k.len() + " (cache segment " + k.segId()
        + " offset " + k.segOff() + ", kset at " + where(pos) + ") failed its data CRC; writeback stopped at dirty_tail "
        + engine.log.dirtyTail() + " and does not write it or pass it (reads of it return EIO). Rewrite [" + k.off()
        + ", " + (k.off() + k.len()) + ") (the data is lost; write it again, write zeroes or discard it) and writeback"
        + " goes on with the newer data";
  }

  /**
   * How many ksets from {@code from} (up to key_head {@code head}) the log needs until later dirty
   * keys cover all of {@code bad}'s extent, or -1 when they do not (yet). Stale and impossible
   * records do not count; a LAST chain that cannot be followed ends the search.
   */
  private int coveredAfter(KeyRecord bad, LogPos from, LogPos head, MemorySegment buf) throws IOException {
    long start = bad.off();
    long end = bad.off() + bad.len();
    TreeMap<Long, Long> covered = new TreeMap<>();
    LogPos pos = from;
    int ksets = 0;
    int hops = 0;
    while (!pos.equals(head)) {
      Kset kset = readKset(pos, head, buf);
      if (kset.last()) {
        if (badLast(pos, kset, ++hops) != null) {
          return -1;
        }
        pos = new LogPos(kset.nextSegId(), 0);
        continue;
      }
      hops = 0;
      ksets++;
      for (KeyRecord k : kset.keys()) {
        long ks = Math.max(start, k.off());
        long ke = Math.min(end, k.off() + k.len());
        if (k.clean() || ks >= ke || impossible(k) != null || k.segGen() < engine.segments.get(k.segId()).gen()) {
          continue;
        }
        Map.Entry<Long, Long> e = covered.floorEntry(ks);
        if (e != null && e.getValue() >= ks) {
          ks = e.getKey();
          ke = Math.max(ke, e.getValue());
        }
        for (Map.Entry<Long, Long> c = covered.ceilingEntry(ks); c != null && c.getKey() <= ke; c = covered.ceilingEntry(ks)) {
          ke = Math.max(ke, c.getValue());
          covered.remove(c.getKey());
        }
        covered.put(ks, ke);
      }
      Map.Entry<Long, Long> first = covered.firstEntry();
      if (first != null && first.getKey() == start && first.getValue() == end) {
        return ksets;
      }
      pos = new LogPos(pos.segId(), pos.off() + kset.size());
    }
    return -1;
  }

  /** The kset at {@code pos}, a position before key_head {@code head}, read into {@code buf}. */
  private Kset readKset(LogPos pos, LogPos head, MemorySegment buf) throws IOException {
    long available = Layout.SEG_DATA_SIZE - Integer.toUnsignedLong(pos.off());
    MemorySegment window = buf.asSlice(0, Math.min(buf.byteSize(), available));
    engine.media.read(Layout.dataOffset(pos.segId(), pos.off()), window);
    Kset.Check check = Kset.check(window, 0, window.byteSize());
    if (check != Kset.Check.VALID) {
      throw new IOException("cache " + engine.media.name() + ": kset at " + pos + " (before key_head " + head
          + ") is unreadable (" + check + "); writeback stops here");
    }
    return Kset.decode(window, 0);
  }

  // ---------------------------------------------------------------------------------------------
  // A backing device that shrank

  /** Dirty data past the end of the backing device, which keeps writeback at dirty_tail {@code at}. */
  private record Stall(LogPos at, long bytes, long first, long end) {}

  /**
   * The union of the dirty ranges past {@code limit} logged from dirty_tail {@code from} up to
   * {@code to}, kept between retries of a stalled writeback so that each retry reads only the
   * ksets logged since. Worker only.
   */
  private static final class PastEnd {
    final LogPos from;
    final long limit;
    LogPos to;
    final TreeMap<Long, Long> ranges = new TreeMap<>();
    long bytes;

    PastEnd(LogPos from, long limit) {
      this.from = from;
      this.limit = limit;
      this.to = from;
    }

    void add(long start, long end) {
      Map.Entry<Long, Long> e = ranges.floorEntry(start);
      if (e == null || e.getValue() < start) {
        e = ranges.ceilingEntry(start);
      }
      while (e != null && e.getKey() <= end) {
        start = Math.min(start, e.getKey());
        end = Math.max(end, e.getValue());
        bytes -= e.getValue() - e.getKey();
        ranges.remove(e.getKey());
        e = ranges.ceilingEntry(start);
      }
      ranges.put(start, end);
      bytes += end - start;
    }
  }

  /** The dirty data past {@code limit} from dirty_tail {@code from} to key_head {@code head}. */
  private Stall stall(LogPos from, LogPos head, long limit, MemorySegment buf) throws IOException {
    if (pastEnd == null || !pastEnd.from.equals(from) || pastEnd.limit != limit) {
      pastEnd = new PastEnd(from, limit);
    }
    LogPos pos = pastEnd.to;
    int hops = 0;
    while (!pos.equals(head)) {
      Kset kset = readKset(pos, head, buf);
      if (kset.last()) {
        String bad = badLast(pos, kset, ++hops);
        if (bad != null) {
          throw new IOException(bad);
        }
        pos = new LogPos(kset.nextSegId(), 0);
        continue;
      }
      hops = 0;
      for (KeyRecord k : kset.keys()) {
        if (!k.clean() && k.off() + k.len() > limit) {
          pastEnd.add(Math.max(k.off(), limit), k.off() + k.len());
        }
      }
      pos = new LogPos(pos.segId(), pos.off() + kset.size());
    }
    pastEnd.to = pos;
    return new Stall(from, pastEnd.bytes, pastEnd.ranges.firstKey(), pastEnd.ranges.lastEntry().getValue());
  }

  /**
   * Records what writeback found about the backing device's size before a batch: {@code limit}
   * its current size, {@code stall} the dirty data past it that stops writeback (null when there
   * is none). Logs a change once (ERROR for a shrink or a stall, INFO when the size is back), not
   * at every retry.
   */
  private void noteSize(long limit, Stall stall) {
    long size = engine.backing.size();
    long seen = Math.min(limit, size);
    String text = seen == size && stall == null ? null : describe(limit, stall);
    String key = seen + " " + (stall == null ? "-" : stall.at());
    if (!key.equals(sizeLogged)) {
      if (text != null) {
        LOG.log(System.Logger.Level.ERROR, "writeback of " + engine.name() + ": " + text);
      } else if (sizeLogged != null) {
        LOG.log(System.Logger.Level.INFO, "writeback of " + engine.name() + ": backing device " + engine.backing.name()
            + " has its " + size + " bytes again; writeback goes on from dirty_tail " + engine.log.dirtyTail());
      }
      sizeLogged = key;
    }
    shrink = text;
    if (stall != null) {
      error(text);
    } else {
      pastEnd = null;
    }
  }

  private String describe(long limit, Stall stall) {
    long size = engine.backing.size();
    String device = "backing device " + engine.backing.name()
        + (limit < size ? " shrank from " + size + " to " + limit + " bytes" : " has " + limit + " bytes");
    if (stall == null) {
      return device + " while pcache runs; writeback goes on while the dirty data it reaches lies below the new end"
          + " (what was on the device past " + limit + " is gone, and reads there fail)";
    }
    return device + ": " + stall.bytes() + " dirty bytes at offsets [" + stall.first() + ", " + stall.end()
        + ") cannot be written back; writeback stopped at dirty_tail " + stall.at() + " and keeps all "
        + Math.max(0, engine.stats.dirtyBytes.sum()) + " dirty bytes in the cache (reads still get them) until the"
        + " device has at least " + stall.end() + " bytes again";
  }

  /** A failed batch: when the backing device has shrunk below what it wrote, the error says so. */
  private IOException shrankUnder(IOException failure, long end) {
    try {
      long now = engine.backing.currentSize();
      if (now < end) {
        return new IOException(failure.getMessage() + " (" + engine.backing.name() + " shrank to " + now
            + " bytes; writeback stops before its end)", failure);
      }
    } catch (IOException e) {
      failure.addSuppressed(e);
    }
    return failure;
  }

  private boolean crcOk(KeyRecord k) {
    MemorySegment data = dataOf(k.segId(), k.segOff(), k.len());
    return Crc32c.update(Crc32c.PCACHE_SEED, data, 0, data.byteSize()) == k.dataCrc();
  }

  private MemorySegment dataOf(int segId, int segOff, int len) {
    long at = engine.segments.get(segId).dataOffset + segOff;
    MemorySegment mapping = engine.media.mapping();
    if (mapping.byteSize() > 0) {
      return mapping.asSlice(at, len);
    }
    MemorySegment copy = Arena.ofAuto().allocate(len, 4096);
    engine.media.read(at, copy);
    return copy;
  }

  /**
   * Whether a backing write of {@code len} bytes that took {@code nanos} (written alone) was slow
   * enough that more writes in flight would pay: more than 50 µs beyond 1 ns per byte (a copy at
   * 1 GB/s). Each batch starts with this thread writing alone and asks after 4, 8 and 16 extents,
   * then every 16: when three quarters of them were slow, the device makes writers wait (a disk, a
   * network device) and helpers join, up to {@code writebackInFlight} writers. A device that keeps
   * the CPU busy instead (memory, the page cache) gains nothing from them: measured through NBD
   * (4 KiB random writes at QD32, a file on ext4 as backing device, 2 cores), 64 writers took 0.59
   * of a core for 28 K writes per second, largely spinning on the file's lock in the kernel; one
   * writer 0.47 of a core for 35-41 K. Three quarters, not one: a write that was preempted on a
   * busy machine, or met a JIT or GC pause (0.1-0.7 ms seen in tests), must not look like a slow
   * device; and the helpers' own contention is never measured.
   */
  private static boolean slowWrite(long nanos, int len) {
    return nanos - len > 50_000;
  }

  private void writeExtent(WritebackPlan.Extent k) throws BlockIOException {
    MemorySegment data = dataOf(k.segId(), k.segOff(), k.len());
    if (data.mismatch(zeros.asSlice(0, k.len())) < 0) {
      engine.backing.writeZeroes(k.off(), k.len());
    } else {
      engine.backing.write(k.off(), data);
    }
  }

  private void throttle(long bytesSoFar, long startNanos) {
    long rate = rateBytesPerSecond;
    if (rate <= 0) {
      return;
    }
    long dueNanos = startNanos + bytesSoFar * 1_000_000_000L / rate;
    long wait = dueNanos - System.nanoTime();
    if (wait > 0) {
      java.util.concurrent.locks.LockSupport.parkNanos(wait);
    }
  }
}
