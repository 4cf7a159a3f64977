package io.pcache.core.engine;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** Counters of one running cache, cheap to bump from any thread (LongAdder). */
public final class CacheStats {

  final LongAdder reads = new LongAdder();
  final LongAdder readHitBytes = new LongAdder();
  final LongAdder readMissBytes = new LongAdder();
  final LongAdder readHits = new LongAdder();
  final LongAdder readMisses = new LongAdder();
  final LongAdder writes = new LongAdder();
  final LongAdder writeBytes = new LongAdder();
  final LongAdder fuaWrites = new LongAdder();
  final LongAdder flushes = new LongAdder();
  final LongAdder discards = new LongAdder();
  final LongAdder discardBytes = new LongAdder();
  final LongAdder zeroWrites = new LongAdder();
  final LongAdder zeroBytes = new LongAdder();
  final LongAdder missFills = new LongAdder();
  final LongAdder dirtyBytes = new LongAdder();
  final LongAdder writebackKeys = new LongAdder();
  final LongAdder writebackBytes = new LongAdder();
  final LongAdder writebackKsets = new LongAdder();
  final LongAdder writebackExtents = new LongAdder();
  final LongAdder writebackErrors = new LongAdder();
  final LongAdder writebackFlushes = new LongAdder();
  final LongAdder gcKsets = new LongAdder();
  final LongAdder gcSegmentsFreed = new LongAdder();
  final LongAdder gcErrors = new LongAdder();
  /** Generation bumps that could not be persisted ({@link Segments}). */
  final LongAdder segGenErrors = new LongAdder();
  /** Segments held out of use now because their generation bump is not durable (a gauge). */
  final LongAdder segmentsHeld = new LongAdder();
  final LongAdder crcErrors = new LongAdder();
  final LongAdder staleHits = new LongAdder();
  final LongAdder ksetsClosed = new LongAdder();

  /** Every counter by name, in a stable order. */
  public Map<String, Long> snapshot() {
    Map<String, Long> m = new LinkedHashMap<>();
    m.put("reads", reads.sum());
    m.put("read_hits", readHits.sum());
    m.put("read_misses", readMisses.sum());
    m.put("read_hit_bytes", readHitBytes.sum());
    m.put("read_miss_bytes", readMissBytes.sum());
    m.put("miss_fills", missFills.sum());
    m.put("writes", writes.sum());
    m.put("write_bytes", writeBytes.sum());
    m.put("fua_writes", fuaWrites.sum());
    m.put("flushes", flushes.sum());
    m.put("discards", discards.sum());
    m.put("discard_bytes", discardBytes.sum());
    m.put("write_zeroes", zeroWrites.sum());
    m.put("write_zeroes_bytes", zeroBytes.sum());
    m.put("dirty_bytes", Math.max(0, dirtyBytes.sum()));
    m.put("ksets_closed", ksetsClosed.sum());
    m.put("writeback_ksets", writebackKsets.sum());
    m.put("writeback_keys", writebackKeys.sum());
    m.put("writeback_extents", writebackExtents.sum());
    m.put("writeback_bytes", writebackBytes.sum());
    m.put("writeback_flushes", writebackFlushes.sum());
    m.put("writeback_errors", writebackErrors.sum());
    m.put("gc_ksets", gcKsets.sum());
    m.put("gc_segments_freed", gcSegmentsFreed.sum());
    m.put("gc_errors", gcErrors.sum());
    m.put("seg_gen_errors", segGenErrors.sum());
    m.put("segments_held", segmentsHeld.sum());
    m.put("crc_errors", crcErrors.sum());
    m.put("stale_hits", staleHits.sum());
    return m;
  }
}
