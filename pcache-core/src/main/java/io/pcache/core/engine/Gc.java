package io.pcache.core.engine;

import io.pcache.api.gc.CacheUsage;
import io.pcache.core.format.KeyRecord;
import io.pcache.core.format.Kset;
import io.pcache.core.format.Layout;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Garbage collection (dm-pcache's FIFO eviction): reclaims ksets from key_tail up to dirty_tail,
 * one at a time, while the {@link io.pcache.api.gc.GcPolicy} asks for segments. Passing a kset
 * drops one reference per key on its data segment; a segment whose last reference goes is
 * invalidated (generation bumped and persisted) and freed, which wakes every writer waiting for
 * space. Passing a LAST kset frees the kset segment behind it (and, unlike upstream, wakes
 * waiters too). key_tail is persisted after each kset.
 *
 * <p>Runs on its own thread: every {@code gcInterval}, when writeback moved dirty_tail, and at
 * once when a writer starts waiting for space. After a segment is invalidated, stale keys that
 * point into it are deleted from the index in small batches (see {@link #cleanStaleKeys}).
 */
final class Gc {

  private static final System.Logger LOG = System.getLogger("io.pcache.core.engine");
  private static final int CLEAN_KEYS_PER_HOLD = 64;

  private final CacheEngine engine;
  private DataCheck dataCheck;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wake = lock.newCondition();
  private final AtomicBoolean staleKeys = new AtomicBoolean();
  private boolean kicked;
  private long lastClean;
  private volatile boolean stopping;
  private Thread thread;

  Gc(CacheEngine engine) {
    this.engine = engine;
  }

  void start() {
    dataCheck = new DataCheck(engine.media);
    thread = Thread.ofPlatform().daemon().name("pcache-gc").start(this::loop);
  }

  void kick() {
    lock.lock();
    try {
      kicked = true;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Called when a segment was freed: stale keys may now be in the index. */
  void segmentFreed(int segId) {
    engine.stats.gcSegmentsFreed.increment();
    staleKeys.set(true);
  }

  void stop() {
    stopping = true;
    kick();
    if (thread != null) {
      try {
        thread.join(30_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void loop() {
    while (!stopping) {
      try {
        reclaim();
        if (staleKeys.getAndSet(false)) {
          cleanStaleKeys();
        }
      } catch (IOException | RuntimeException e) {
        engine.stats.gcErrors.increment();
        LOG.log(System.Logger.Level.ERROR, "GC of " + engine.name() + " failed: " + e.getMessage());
      }
      lock.lock();
      try {
        if (!kicked && !stopping) {
          wake.await(engine.options.gcInterval().toMillis(), TimeUnit.MILLISECONDS);
        }
        kicked = false;
      } catch (InterruptedException e) {
        return;
      } finally {
        lock.unlock();
      }
    }
  }

  /** Reclaims ksets while the policy asks for it and writeback has passed them. */
  void reclaim() throws IOException {
    MemorySegment buf = Arena.ofAuto().allocate(Layout.KSET_SIZE_MAX, 8);
    while (!stopping) {
      LogPos keyTail = engine.log.keyTail();
      LogPos dirtyTail = engine.log.dirtyTail();
      if (keyTail.equals(dirtyTail)) {
        return;
      }
      CacheUsage usage = engine.usage();
      if (engine.policy.segmentsToReclaim(usage) <= 0) {
        return;
      }
      long available = Layout.SEG_DATA_SIZE - Integer.toUnsignedLong(keyTail.off());
      MemorySegment window = buf.asSlice(0, Math.min(buf.byteSize(), available));
      engine.media.read(Layout.dataOffset(keyTail.segId(), keyTail.off()), window);
      Kset.Check check = Kset.check(window, 0, window.byteSize());
      if (check != Kset.Check.VALID) {
        throw new IOException("cache " + engine.media.name() + ": kset at key_tail " + keyTail + " is unreadable ("
            + check + "); GC stops until restart");
      }
      Kset kset = Kset.decode(window, 0);
      if (kset.last()) {
        if (dirtyTail.segId() == keyTail.segId()) {
          return;
        }
        engine.log.writeKeyTail(new LogPos(kset.nextSegId(), 0));
        engine.log.forgetKsetSegment(keyTail.segId());
        engine.segments.freeKsetSegment(keyTail.segId());
      } else {
        for (KeyRecord k : kset.keys()) {
          // Drop exactly the references replay takes: none for impossible records, none for stale
          // ones (a kset replayed in GC's crash window: its references were dropped before the
          // crash, and the segment may hold something else now, even ksets). At run time every
          // record GC meets is live: a segment is reclaimed only after GC passed all its records.
          if (!Replay.plausible(engine, k)) {
            continue;
          }
          CacheSegment seg = engine.segments.get(k.segId());
          if (k.segGen() < seg.gen()) {
            continue;
          }
          if (engine.options.dataCrc()) {
            verify(k, seg);
          }
          engine.segments.put(seg);
        }
        engine.log.writeKeyTail(new LogPos(keyTail.segId(), keyTail.off() + kset.size()));
      }
      engine.stats.gcKsets.increment();
    }
  }

  /**
   * Deletes stale keys from every stripe, examining at most {@value #CLEAN_KEYS_PER_HOLD} keys per
   * stripe-lock hold so that requests are never held up for long. Runs at most once per
   * {@code gcInterval}: lookups and inserts delete the stale keys they meet anyway, this pass only
   * bounds the memory that stale keys nobody touches would hold.
   */
  /**
   * Checks a key's data CRC as upstream's GC does when decoding a kset. Unlike upstream, a
   * mismatch does not stop GC for good: it is counted and logged with the offset and length (the
   * extent was written back already; its cached copy is bad).
   */
  private void verify(KeyRecord k, CacheSegment seg) {
    if (!dataCheck.matches(k)) {
      engine.stats.crcErrors.increment();
      LOG.log(System.Logger.Level.WARNING, "cache " + engine.media.name() + ": GC found a data CRC mismatch on the "
          + (k.clean() ? "clean" : "dirty") + " extent at backing offset " + k.off() + " length " + k.len()
          + " (segment " + k.segId() + " offset " + k.segOff() + ")");
    }
  }

  private void cleanStaleKeys() {
    long now = System.nanoTime();
    if (now - lastClean < engine.options.gcInterval().toNanos()) {
      staleKeys.set(true); // not yet: keep the request for the next round
      return;
    }
    lastClean = now;
    for (int i = 0; i < engine.index.stripeCount() && !stopping; i++) {
      Stripe s = engine.index.stripeAt(i);
      if (s == null) {
        continue;
      }
      long from = Long.MIN_VALUE;
      do {
        // tryLock: a writer may hold the stripe while it waits for a free log segment, which only
        // GC can provide; a busy stripe is skipped (its stale keys go the next time, or on a lookup).
        if (!s.lock.tryLock()) {
          staleKeys.set(true);
          break;
        }
        try {
          from = s.deleteStale(engine::stale, from, CLEAN_KEYS_PER_HOLD);
        } finally {
          s.lock.unlock();
        }
      } while (from != -1 && !stopping);
    }
  }
}
