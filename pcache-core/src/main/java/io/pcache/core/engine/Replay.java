package io.pcache.core.engine;

import io.pcache.core.format.KeyRecord;
import io.pcache.core.format.Kset;
import io.pcache.core.format.Layout;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Rebuilds the index and the segment map from the log (dm-pcache's {@code cache_replay}): walks
 * the ksets from key_tail, follows LAST ksets into the next kset segment, and stops at the first
 * kset whose magic, key count or CRC is wrong; key_head is set there. Unlike upstream, that kset
 * is judged first ({@link LogTail}): a torn last kset ends the log (its header is zeroed); one
 * whose header a CRC check can restore is rewritten and replayed; a corrupt one in the middle of
 * the log (valid ksets after it, or damage no torn write leaves) refuses the start, or with
 * {@code --recover-log cut} ends the log there, logged as an ERROR with the keys dropped.
 *
 * <p>Deviations from upstream, all in the direction of starting more often and never serving
 * wrong data:
 *
 * <ul>
 *   <li>A key's generation is checked <em>before</em> its data CRC: a stale key (its segment was
 *       reclaimed in GC's crash window) is dropped without looking at data that was overwritten.
 *       It takes no segment reference (upstream takes one, and GC passing the kset again then
 *       drops it from whatever the segment has become since, possibly a kset segment of the log,
 *       which is then freed and overwritten).
 *       It still cuts the older keys of its range replayed before it (upstream just skips it, and
 *       an older key of the same kset whose segment is still alive then comes back: a read
 *       returns the old data although the new data was written back).
 *   <li>A data CRC mismatch does not abort the start. A clean key is dropped (the backing device
 *       has the data); a dirty key is kept, so that reading it returns EIO rather than older data,
 *       and it is counted and logged with its offset and length.
 *   <li>A kset with a key whose fields cannot be right (segment id beyond the cache, extent beyond
 *       the data area or the backing device, crossing a 4 MiB boundary, length 0 or not a multiple
 *       of 512, unknown flags, a generation ahead of its segment's) is corrupt, as above: its CRC
 *       says it was written like that, so the log cannot be trusted from there on.
 *   <li>LAST chains are followed for at most n_segs hops (a loop refuses the start).
 *   <li>dirty_tail must lie on the chain between key_tail and key_head; otherwise writeback would
 *       read garbage, and the start is refused.
 * </ul>
 */
final class Replay {

  private static final System.Logger LOG = System.getLogger("io.pcache.core.engine");

  private final CacheEngine engine;

  Replay(CacheEngine engine) {
    this.engine = engine;
  }

  CacheEngine.ReplayReport run(boolean formatted) throws IOException {
    long start = System.nanoTime();
    Segments segments = engine.segments;
    KeyLog log = engine.log;
    LogTail tail = new LogTail(engine.media, segments.count(), id -> segments.get(id).gen(), engine.size(),
        engine.options.dataCrc());
    tail.inUse(id -> segments.map().isUsed(id));
    MemorySegment buf = Arena.ofAuto().allocate(Layout.KSET_SIZE_MAX, 8);
    LogPos pos = log.keyTail();
    LogPos dirtyTail = log.dirtyTail();
    checkSegment(pos.segId(), "key_tail");
    checkSegment(dirtyTail.segId(), "dirty_tail");
    segments.map().markUsed(pos.segId());
    log.noteKsetSegment(pos.segId());
    boolean sawDirtyTail = pos.equals(dirtyTail);
    long ksets = 0;
    long keys = 0;
    long stale = 0;
    long bad = 0;
    long dirtyBytes = 0;
    long dirtyKsets = 0;
    long repaired = 0;
    long dropped = 0;
    int hops = 0;
    while (true) {
      long available = Layout.SEG_DATA_SIZE - Integer.toUnsignedLong(pos.off());
      if (available < Layout.KSET_HEADER_SIZE) {
        break;
      }
      MemorySegment window = buf.asSlice(0, Math.min(buf.byteSize(), available));
      engine.media.read(Layout.dataOffset(pos.segId(), pos.off()), window);
      if (Kset.check(window, 0, window.byteSize()) != Kset.Check.VALID) {
        LogTail.Verdict v = tail.judge(pos);
        if (v.kind() == LogTail.Kind.END) {
          clearTornHeader(window, pos);
          break;
        }
        if (v.kind() == LogTail.Kind.CORRUPT) {
          dropped = corrupt(tail, pos, v.reason(), v.ksetsAfter(), v.keysAfter(), v.successor());
          break;
        }
        // REPAIRABLE: every word but a header word is as written; rewrite the header and go on.
        LOG.log(System.Logger.Level.WARNING, "cache " + engine.media.name() + ": " + v.reason()
            + "; rewriting its header and replaying it");
        long at = Layout.dataOffset(pos.segId(), pos.off());
        engine.media.write(at, v.repaired().asSlice(0, Layout.KSET_HEADER_SIZE));
        engine.media.persist(at, Layout.KSET_HEADER_SIZE);
        MemorySegment.copy(v.repaired(), 0, window, 0, v.repaired().byteSize());
        repaired++;
      }
      Kset kset = Kset.decode(window, 0);
      if (kset.last()) {
        int next = kset.nextSegId();
        if (!segments.valid(next)) {
          dropped = corrupt(tail, pos, "the LAST kset at " + LogTail.where(pos) + " points to segment "
              + Integer.toUnsignedString(next) + " beyond the " + segments.count() + " segments", 0, 0, null);
          break;
        }
        if (++hops > segments.count()) {
          throw new CacheRefusedException("cache " + engine.media.name() + ": the kset log's LAST chain passes more than the "
              + segments.count() + " segments (it loops, at " + LogTail.where(pos) + "); the log is corrupt: run"
              + " 'pcache check'");
        }
        ksets++;
        pos = new LogPos(next, 0);
        segments.map().markUsed(next);
        log.noteKsetSegment(next);
      } else {
        String impossible = tail.impossibleKey(kset, pos);
        if (impossible != null) {
          LogPos next = new LogPos(pos.segId(), pos.off() + kset.size());
          long[] after = tail.count(next);
          dropped = corrupt(tail, pos, impossible, after[0], after[1], after[0] > 0 ? next : null);
          break;
        }
        ksets++;
        if (sawDirtyTail) {
          dirtyKsets++;
        }
        for (KeyRecord k : kset.keys()) {
          keys++;
          CacheSegment seg = segments.get(k.segId());
          if (k.segGen() < seg.gen()) {
            // A stale key lies in GC's crash window: GC passed it (so its data, or newer, is on the
            // backing device) and reclaimed its segment, but the power went before key_tail moved.
            // It still overrides the older keys of its range that the same window replays (an older
            // key of the same kset whose segment lives on): cut them, then drop the stale key, so
            // that the range reads from the backing device and never from an older version.
            stale++;
            Stripe stripe = engine.index.stripe(k.off());
            CacheKey tombstone = new CacheKey(k.off(), k.len(), 0, k.segId(), k.segOff(), k.segGen(), 0);
            stripe.lock.lock();
            try {
              stripe.insert(tombstone, engine::stale);
              stripe.remove(tombstone);
            } finally {
              stripe.lock.unlock();
            }
            // No reference: the one this record held was dropped before the crash, and its segment
            // may hold something else now, even ksets (GC skips stale records, see Gc#reclaim).
            continue;
          }
          segments.map().markUsed(k.segId());
          seg.get(); // one reference per live on-media key; GC drops it when it passes the kset
          if (engine.options.dataCrc() && !tail.dataMatches(k)) {
            bad++;
            engine.stats.crcErrors.increment();
            LOG.log(System.Logger.Level.WARNING, "cache " + engine.media.name() + ": data CRC mismatch on replay, "
                + (k.clean() ? "clean" : "dirty") + " extent at backing offset " + k.off() + " length " + k.len()
                + (k.clean() ? ": dropped, reads go to the backing device" : ": kept, reads of it return EIO"));
            if (k.clean()) {
              continue;
            }
          }
          CacheKey key = new CacheKey(k.off(), k.len(), k.clean() ? CacheKey.CLEAN : 0, k.segId(), k.segOff(),
              k.segGen(), k.dataCrc());
          Stripe stripe = engine.index.stripe(k.off());
          stripe.lock.lock();
          try {
            stripe.insert(key, engine::stale);
          } finally {
            stripe.lock.unlock();
          }
          if (!k.clean() && sawDirtyTail) {
            dirtyBytes += k.len();
          }
        }
        pos = new LogPos(pos.segId(), pos.off() + kset.size());
      }
      if (pos.equals(dirtyTail)) {
        sawDirtyTail = true;
      }
    }
    if (!sawDirtyTail && dropped > 0) {
      // --recover-log cut dropped the part of the log dirty_tail was in: writeback starts at the cut.
      LOG.log(System.Logger.Level.ERROR, "cache " + engine.media.name() + ": dirty_tail " + dirtyTail
          + " was in the dropped part of the log; it moves to the cut at " + pos);
      log.writeDirtyTail(pos);
      sawDirtyTail = true;
      dirtyKsets = 0;
    }
    if (!sawDirtyTail) {
      throw new CacheRefusedException("cache " + engine.media.name() + ": dirty_tail " + dirtyTail + " is not on the log between key_tail "
          + log.keyTail() + " and key_head " + pos + " (crafted or corrupt cache image?); run 'pcache check'");
    }
    log.setHead(pos);
    log.replayedDirtyKsets(dirtyKsets);
    engine.stats.dirtyBytes.add(dirtyBytes);
    return new CacheEngine.ReplayReport(ksets, keys, stale, bad, System.nanoTime() - start, formatted, repaired,
        dropped);
  }

  /**
   * A corrupt kset at {@code pos}: refuses to start, or with {@code --recover-log cut} ends the log
   * there, erasing the headers of the dropped ksets so that they never come back. Returns the
   * number of keys dropped (at least 1 so the caller knows the log was cut).
   */
  private long corrupt(LogTail tail, LogPos pos, String reason, long ksetsAfter, long keysAfter, LogPos successor)
      throws IOException {
    String after = ksetsAfter > 0
        ? ksetsAfter + " valid ksets with " + keysAfter + " keys follow it"
        : "whatever followed it cannot be found";
    if (engine.options.recoverLog() == EngineOptions.RecoverLog.REFUSE) {
      throw new CacheRefusedException("cache " + engine.media.name() + ": the kset log is corrupt: " + reason + "; " + after
          + ". Refusing to start, since the writes logged from there on would be lost or served stale. Run 'pcache check"
          + " --cache " + engine.media.name() + "' for details; to start anyway and drop the log from that kset on (those"
          + " writes are lost), run with --recover-log cut");
    }
    long erased = tail.erase(pos, successor);
    LOG.log(System.Logger.Level.ERROR, "cache " + engine.media.name() + ": the kset log is corrupt: " + reason
        + "; --recover-log cut: the log ends there, " + ksetsAfter + " ksets with " + keysAfter
        + " keys after it are dropped (" + erased + " kset headers erased); writes they held are lost");
    return Math.max(1, keysAfter);
  }

  /**
   * After a torn last kset, zeroes its header, so that the next kset written there has a zero
   * header under it again (what {@link LogTail} relies on to tell torn from damaged).
   */
  private void clearTornHeader(MemorySegment window, LogPos pos) throws IOException {
    MemorySegment header = window.asSlice(0, Layout.KSET_HEADER_SIZE);
    MemorySegment zero = Arena.ofAuto().allocate(Layout.KSET_HEADER_SIZE, 8);
    if (header.mismatch(zero) >= 0) {
      long at = Layout.dataOffset(pos.segId(), pos.off());
      engine.media.write(at, zero);
      engine.media.persist(at, Layout.KSET_HEADER_SIZE);
    }
  }

  private void checkSegment(int id, String what) throws IOException {
    if (!engine.segments.valid(id)) {
      throw new IOException("cache " + engine.media.name() + ": " + what + " is in segment " + Integer.toUnsignedString(id)
          + " beyond the " + engine.segments.count() + " segments; the cache is corrupt");
    }
  }

  /**
   * Whether a key record can be right. Replay refuses a log with any other (so GC, which skips
   * them, meets them only if the backing device shrank at run time).
   */
  static boolean plausible(CacheEngine engine, KeyRecord k) {
    long len = Integer.toUnsignedLong(k.len());
    long segOff = Integer.toUnsignedLong(k.segOff());
    return engine.segments.valid(k.segId()) && len > 0 && len % 512 == 0 && k.off() >= 0 && k.off() % 512 == 0
        && segOff + len <= Layout.SEG_DATA_SIZE && k.off() + len <= engine.size()
        && (k.off() >>> Layout.SUBTREE_SHIFT) == ((k.off() + len - 1) >>> Layout.SUBTREE_SHIFT)
        && (k.flags() & ~Layout.KEY_F_CLEAN) == 0;
  }
}
