package io.pcache.core.engine;

import io.pcache.api.backing.BackingIdentity;
import io.pcache.core.format.BackingRecord;
import io.pcache.core.format.CacheInfo;
import java.io.IOException;
import java.lang.System.Logger.Level;

/**
 * Ties a cache to its backing device, so that data cached for one device is never written to, or
 * served as the content of, another (issue #15, item 5). Runs once per start, in {@link
 * CacheEngine#open}, after replay (when the engine knows whether the cache holds dirty data) and
 * before writeback, GC or any request can touch the backing device.
 *
 * <h2>What happens</h2>
 *
 * The backing device's {@link io.pcache.api.backing.BackingDevice#identity() identity} is
 * compared with the one recorded on the cache device ({@link BackingRecord}):
 *
 * <table class="striped">
 *   <caption>Decisions</caption>
 *   <tr><th>record</th><th>cache</th><th>outcome</th></tr>
 *   <tr><td>same device</td><td>any</td><td>starts; a grown size or changed description (a file
 *       that was moved) is recorded anew (INFO)</td></tr>
 *   <tr><td>none (dm-pcache's or an older pcache's cache)</td><td>any</td><td>records the
 *       device (INFO) and starts</td></tr>
 *   <tr><td rowspan="3">another device, the same device shrunk, or a record that cannot be read
 *       (corrupt, or of a newer pcache: we cannot tell whose data this is)</td>
 *       <td>empty (no keys)</td><td>records the device (INFO) and starts</td></tr>
 *   <tr><td>clean data only</td><td>invalidates: formats the cache again, keeping its gc_percent
 *       and data_crc (WARN naming both devices), and the caller opens it again, so the other
 *       device's data is never served</td></tr>
 *   <tr><td>dirty data</td><td>refuses to start, naming both devices and the three ways on;
 *       with {@link EngineOptions#acceptBackingChange()} starts instead (WARN naming both),
 *       records the device, and writeback writes the dirty data to it; the cache's clean data is
 *       then taken as this device's too (the user said it is the same content)</td></tr>
 * </table>
 *
 * <p>Crash safety: the record is written only after the decision is final and before any request
 * is served; an invalidation formats first and records afterwards (in the next open), so a power
 * cut in between leaves an empty cache with the old record, which the next start re-records.
 */
final class BackingBinding {

  private static final System.Logger LOG = System.getLogger("io.pcache.core.engine");

  private BackingBinding() {}

  /**
   * Checks {@code engine}'s backing device against the record and acts as the class notes say.
   *
   * @return true when the engine may start; false when the cache held another device's clean data
   *     and was formatted again: {@code engine} is then closed and the caller must open the cache
   *     again
   * @throws IOException when the cache holds dirty data for another device (the engine is then
   *     closed; nothing was written to either device), or when the record cannot be written
   */
  static boolean bind(CacheEngine engine) throws IOException {
    BackingIdentity given = engine.backing.identity();
    // The device's own size rules (a driver's identity could lag a resize).
    BackingIdentity current = new BackingIdentity(given.kind(), given.id(), engine.backing.size(), given.description());
    BackingRecord.Found found = BackingRecord.load(engine.media);
    String cache = "cache " + engine.media.name();
    String device = engine.backing.name();
    String recorded;
    switch (found.status()) {
      case ABSENT -> {
        record(engine, found, current);
        LOG.log(Level.INFO, cache + ": recorded its backing device " + device + " (" + current + "): it had no record (a new cache,"
            + " or one last used by dm-pcache or an older pcache)");
        return true;
      }
      case VALID -> {
        BackingIdentity old = found.stored().identity();
        if (old.sameDevice(current) && current.size() >= old.size()) {
          if (current.size() != old.size() || !current.description().equals(old.description())) {
            record(engine, found, current);
            LOG.log(Level.INFO, cache + ": backing device " + device + " is the recorded one (" + current.kind() + " " + current.id()
                + ")" + (current.size() != old.size() ? ", grown from " + old.size() + " to " + current.size() + " bytes" : "")
                + (current.description().equals(old.description()) ? "" : ", now at " + current.description() + " (was "
                + old.description() + ")") + ": record updated");
          }
          return true;
        }
        recorded = old.sameDevice(current) ? old + " (the same device, shrunk to " + current.size() + " bytes)" : old.toString();
      }
      case CORRUPT -> recorded = "unknown: the record of it is corrupt (" + String.join("; ", found.problems()) + ")";
      case TOO_NEW -> recorded = "unknown: " + String.join("; ", found.problems());
      default -> throw new AssertionError(found.status());
    }
    String both = "recorded backing device: " + recorded + "; given backing device: " + device + " (" + current + ")";
    if (engine.keyCount() == 0 && engine.clean()) {
      record(engine, found, current);
      LOG.log(Level.INFO, cache + " holds no data: recorded its new backing device. " + both);
      return true;
    }
    if (!engine.clean()) {
      if (engine.options.acceptBackingChange()) {
        LOG.log(Level.WARNING, cache + " holds dirty data cached for another backing device, accepted (backing.changed=accept):"
            + " writeback now writes it to " + device + ", and its cached data is served as " + device + "'s. " + both);
        record(engine, found, current);
        return true;
      }
      IOException refusal = new CacheRefusedException(cache + " holds dirty data (" + engine.positions() + ") cached for another backing"
          + " device than " + device + ": " + both + ". Writing it back would put that device's data on " + device + ". Start"
          + " with the backing device the cache was used with; or, if " + device + " holds that device's content (copied or"
          + " moved), start with --backing-changed accept (config backing.changed=accept) to write the dirty data to it; or"
          + " drop the cached data with 'pcache format --force --cache " + engine.media.name() + "'");
      try {
        engine.close();
      } catch (IOException | RuntimeException e) {
        refusal.addSuppressed(e);
      }
      throw refusal;
    }
    CacheInfo info = CacheFormat.cacheInfo(engine.media).orElseThrow(() -> new IOException(cache
        + ": cache_info unreadable while invalidating the cache for a new backing device"));
    LOG.log(Level.WARNING, cache + " holds clean data cached for another backing device: invalidating it (formatting the cache"
        + " again, gc_percent " + info.gcPercent() + " and data_crc " + info.dataCrc() + " kept) so that it is never served as "
        + device + "'s. " + both);
    engine.close();
    CacheFormat.format(engine.media, info.dataCrc(), info.gcPercent());
    return false;
  }

  private static void record(CacheEngine engine, BackingRecord.Found found, BackingIdentity identity) throws IOException {
    BackingRecord.write(engine.media, found, identity, System.currentTimeMillis());
  }
}
