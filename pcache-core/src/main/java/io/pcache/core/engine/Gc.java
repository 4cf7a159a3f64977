package io.pcache.core.engine;

import io.pcache.api.gc.CacheUsage;
import io.pcache.core.format.KeyRecord;
import io.pcache.core.format.Kset;
import io.pcache.core.format.Layout;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Instant;
import java.util.List;
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
 *
 * <h2>Errors</h2>
 *
 * <ul>
 *   <li>A kset is reclaimed at most once per key, whatever fails (pcache's choice; upstream stops GC
 *       for good instead, see the comment on a partly reclaimed kset in its cache_gc.c). GC
 *       remembers in memory how many keys of the kset at key_tail already had their reference
 *       dropped ({@link #reclaimPos}, {@link #reclaimDone}); when the key_tail persist, or the
 *       generation persist of a segment whose last reference went, throws, the next round goes on
 *       after the last key dropped instead of dropping every reference again (a reference dropped
 *       twice freed a segment still in use: a data head, then handed out again, lost acknowledged
 *       data). This is safe across a crash too: replay takes the kset's references afresh.
 *   <li>The loop catches every {@link Throwable} (an {@link Error} from the media, such as the
 *       InternalError of a SIGBUS on a full file system, included): each failed round is counted
 *       ({@code gc_errors}), logged at ERROR, latched in {@link #lastError()} with its time (shown
 *       by {@code pcache status}), and followed by a back-off (100 ms doubling to 5 s, not cut
 *       short by kicks). The thread never ends before {@link #stop}.
 *   <li>What makes going on unsafe stops reclaiming for good, latched and reported the same way
 *       ({@link #stopped}): a LAST kset whose next segment is not a kset segment of the log, or a
 *       chain of more LAST ksets than there are segments (a loop; replay and check have the same
 *       limit). Freeing what such a kset names could free a segment in use. Stale-key cleanup and
 *       held generations ({@link Segments#retryHeld}) go on.
 * </ul>
 */
final class Gc {

  private static final System.Logger LOG = System.getLogger("io.pcache.core.engine");
  private static final int CLEAN_KEYS_PER_HOLD = 64;
  private static final long MIN_BACKOFF_MS = 100;
  private static final long MAX_BACKOFF_MS = 5000;

  private final CacheEngine engine;
  private DataCheck dataCheck;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wake = lock.newCondition();
  private final AtomicBoolean staleKeys = new AtomicBoolean();
  private boolean kicked;
  private long lastClean;
  private volatile boolean stopping;
  private Thread thread;
  /** The kset at key_tail whose first {@link #reclaimDone} keys had their references dropped; GC thread only. */
  private LogPos reclaimPos;
  private int reclaimDone;
  /** The last failed round, with its time; null after a round that succeeded. */
  private volatile String lastError;
  /** Why GC stopped reclaiming for good (latched until restart), or null. */
  private volatile String stopped;

  Gc(CacheEngine engine) {
    this.engine = engine;
  }

  void start() {
    dataCheck = new DataCheck(engine.media);
    engine.segments.stats(engine.stats);
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

  /**
   * What GC reports for {@code pcache status}, or null when all is well: why it stopped
   * reclaiming, else its last failed round, else a segment held because its generation could not
   * be persisted. Each starts with the time it happened.
   */
  String lastError() {
    String s = stopped;
    if (s != null) {
      return s;
    }
    String e = lastError;
    return e != null ? e : engine.segments.lastError();
  }

  private void loop() {
    long backoff = MIN_BACKOFF_MS;
    while (!stopping) {
      boolean failed = false;
      try {
        engine.segments.retryHeld();
        reclaim();
        if (staleKeys.getAndSet(false)) {
          cleanStaleKeys();
        }
        lastError = null;
        backoff = MIN_BACKOFF_MS;
      } catch (Throwable e) {
        // Every Throwable: an Error from the media (SIGBUS on a full file system) must not end GC.
        failed = true;
        engine.stats.gcErrors.increment();
        lastError = Instant.now() + ": GC failed, retrying in " + backoff + " ms: " + e;
        LOG.log(System.Logger.Level.ERROR, "GC of " + engine.name() + " failed, retrying in " + backoff + " ms: " + e, e);
      }
      if (failed) {
        backOff(backoff);
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
        continue;
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

  /** Waits {@code millis} after a failed round; kicks do not cut it short, {@link #stop} does. */
  private void backOff(long millis) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
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

  /** Stops reclaiming for good: logged at ERROR, latched in {@link #lastError()}; throws to end the round. */
  private IOException stopReclaiming(String why) {
    stopped = Instant.now() + ": GC stopped until restart: " + why;
    LOG.log(System.Logger.Level.ERROR, "cache " + engine.media.name() + ": " + stopped);
    return new IOException(why);
  }

  /**
   * Reclaims ksets while the policy asks for it and writeback has passed them. Drops each key's
   * reference at most once, even when it throws part way through a kset (see the class notes).
   */
  void reclaim() throws IOException {
    if (stopped != null) {
      return;
    }
    MemorySegment buf = Arena.ofAuto().allocate(Layout.KSET_SIZE_MAX, 8);
    int hops = 0;
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
        int next = kset.nextSegId();
        // A LAST kset names the next kset segment; freeing ours and moving on is safe only if that
        // is a kset segment of this log other than ours, and the chain cannot loop (as replay).
        if (++hops > engine.segments.count()) {
          throw stopReclaiming("more than " + engine.segments.count() + " LAST ksets in a row from key_tail " + keyTail
              + " (media " + engine.media.name() + " offset " + Layout.dataOffset(keyTail.segId(), keyTail.off())
              + "): the chain loops");
        }
        if (next == keyTail.segId() || !engine.segments.valid(next) || !engine.log.ksetSegment(next)) {
          throw stopReclaiming("the LAST kset at key_tail " + keyTail + " (media " + engine.media.name() + " offset "
              + Layout.dataOffset(keyTail.segId(), keyTail.off()) + " length " + Layout.KSET_HEADER_SIZE
              + ") names segment " + Integer.toUnsignedString(next) + ", which is not a kset segment of the log");
        }
        engine.log.writeKeyTail(new LogPos(next, 0));
        engine.log.forgetKsetSegment(keyTail.segId());
        engine.segments.freeKsetSegment(keyTail.segId());
      } else {
        hops = 0;
        List<KeyRecord> keys = kset.keys();
        // Keys whose reference a failed round already dropped are passed over (finding: a retry
        // dropped them twice and freed a live segment).
        int from = keyTail.equals(reclaimPos) ? reclaimDone : 0;
        for (int i = from; i < keys.size(); i++) {
          KeyRecord k = keys.get(i);
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
          // Counted before the put: a put that throws (its generation persist failed) has dropped
          // the reference all the same.
          reclaimPos = keyTail;
          reclaimDone = i + 1;
          engine.segments.put(seg);
        }
        engine.log.writeKeyTail(new LogPos(keyTail.segId(), keyTail.off() + kset.size()));
        reclaimPos = null;
        reclaimDone = 0;
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
