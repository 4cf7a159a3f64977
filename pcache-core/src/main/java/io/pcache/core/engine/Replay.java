package io.pcache.core.engine;

import io.pcache.core.format.Crc32c;
import io.pcache.core.format.KeyRecord;
import io.pcache.core.format.Kset;
import io.pcache.core.format.Layout;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Rebuilds the index and the segment map from the log (dm-pcache's {@code cache_replay}): walks
 * the ksets from key_tail, follows LAST ksets into the next kset segment, and stops at the first
 * kset whose magic, key count or CRC is wrong; key_head is set there.
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
 *   <li>Keys whose fields cannot be right (segment id beyond the cache, extent beyond the data
 *       area or the backing device, crossing a 4 MiB boundary, length not a multiple of 512) are
 *       skipped and counted, as the hardened kernel rejects them.
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
    while (true) {
      long available = Layout.SEG_DATA_SIZE - Integer.toUnsignedLong(pos.off());
      if (available < Layout.KSET_HEADER_SIZE) {
        break;
      }
      MemorySegment window = buf.asSlice(0, Math.min(buf.byteSize(), available));
      engine.media.read(Layout.dataOffset(pos.segId(), pos.off()), window);
      if (Kset.check(window, 0, window.byteSize()) != Kset.Check.VALID) {
        break;
      }
      Kset kset = Kset.decode(window, 0);
      ksets++;
      if (kset.last()) {
        int next = kset.nextSegId();
        if (!segments.valid(next)) {
          throw new IOException("cache " + engine.media.name() + ": LAST kset at " + pos + " points to segment "
              + Integer.toUnsignedString(next) + " beyond the " + segments.count() + " segments; the log is corrupt");
        }
        pos = new LogPos(next, 0);
        segments.map().markUsed(next);
        log.noteKsetSegment(next);
      } else {
        if (sawDirtyTail) {
          dirtyKsets++;
        }
        for (KeyRecord k : kset.keys()) {
          keys++;
          if (!plausible(engine, k)) {
            bad++;
            LOG.log(System.Logger.Level.WARNING, "cache " + engine.media.name() + ": skipping an impossible key in the kset at "
                + pos + ": " + k);
            continue;
          }
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
          if (engine.options.dataCrc()) {
            MemorySegment data = Arena.ofAuto().allocate(Integer.toUnsignedLong(k.len()), 8);
            engine.media.read(seg.dataOffset + k.segOff(), data);
            if (Crc32c.update(Crc32c.PCACHE_SEED, data, 0, data.byteSize()) != k.dataCrc()) {
              bad++;
              engine.stats.crcErrors.increment();
              LOG.log(System.Logger.Level.WARNING, "cache " + engine.media.name() + ": data CRC mismatch on replay, "
                  + (k.clean() ? "clean" : "dirty") + " extent at backing offset " + k.off() + " length " + k.len()
                  + (k.clean() ? ": dropped, reads go to the backing device" : ": kept, reads of it return EIO"));
              if (k.clean()) {
                continue;
              }
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
    if (!sawDirtyTail) {
      throw new IOException("cache " + engine.media.name() + ": dirty_tail " + dirtyTail + " is not on the log between key_tail "
          + log.keyTail() + " and key_head " + pos + " (crafted or corrupt cache image?); run 'pcache check'");
    }
    log.setHead(pos);
    log.replayedDirtyKsets(dirtyKsets);
    engine.stats.dirtyBytes.add(dirtyBytes);
    return new CacheEngine.ReplayReport(ksets, keys, stale, bad, System.nanoTime() - start, formatted);
  }

  private void checkSegment(int id, String what) throws IOException {
    if (!engine.segments.valid(id)) {
      throw new IOException("cache " + engine.media.name() + ": " + what + " is in segment " + Integer.toUnsignedString(id)
          + " beyond the " + engine.segments.count() + " segments; the cache is corrupt");
    }
  }

  /**
   * Whether a key record can be right. Replay skips the others (and takes no reference for them),
   * so GC must skip them too.
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
