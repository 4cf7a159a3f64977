package io.pcache.core.engine;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.format.Layout;
import io.pcache.core.format.SegmentInfo;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.function.IntConsumer;

/**
 * All cache segments, their chain on the media, allocation and invalidation.
 *
 * <p>Invalidation (a data segment's last reference dropped): the generation is bumped and
 * persisted <em>before</em> the segment returns to the free map, so no key written for the
 * segment's next life can be confused with one from this life, even after a crash.
 */
final class Segments {

  private final CacheMedia media;
  private final CacheSegment[] all;
  private final SegmentMap map;
  private final IntConsumer onInvalidate;

  /**
   * @param onInvalidate told the id of each invalidated segment (stale-key cleanup, waiters)
   * @param onPressure told when a writer waits for space (kicks GC)
   */
  Segments(CacheMedia media, int count, IntConsumer onInvalidate, Runnable onPressure) {
    this.media = media;
    this.all = new CacheSegment[count];
    for (int i = 0; i < count; i++) {
      all[i] = new CacheSegment(media, i);
    }
    this.map = new SegmentMap(count, onPressure);
    this.onInvalidate = onInvalidate;
  }

  int count() {
    return all.length;
  }

  CacheSegment get(int id) {
    return all[id];
  }

  SegmentMap map() {
    return map;
  }

  boolean valid(int id) {
    return id >= 0 && id < all.length;
  }

  /**
   * Formats the chain: each segment's metadata zeroed, gen 0, segment_info {seq 1, type data},
   * then the previous segment's info rewritten with HAS_NEXT and the next id (as upstream's
   * cache_seg_init and cache_seg_set_next_seg), and the first 24 bytes of every data area zeroed
   * so that no stale kset survives.
   */
  void format() throws IOException {
    MemorySegment zero = Arena.ofAuto().allocate(Layout.SEG_DATA_OFF, 4096);
    int typeFlags = Layout.SEG_TYPE_CACHE_DATA << Layout.SEG_INFO_TYPE_SHIFT;
    for (int i = 0; i < all.length; i++) {
      CacheSegment s = all[i];
      long base = Layout.segmentOffset(i);
      media.write(base, zero);
      media.write(s.dataOffset, zero.asSlice(0, Layout.KSET_HEADER_SIZE));
      media.persist(base, Layout.SEG_DATA_OFF + Layout.KSET_HEADER_SIZE);
      s.formatGen();
      s.info().reset();
      s.info().update(new SegmentInfo(0, typeFlags, 0));
      if (i > 0) {
        all[i - 1].info().update(new SegmentInfo(0, typeFlags | Layout.SEG_INFO_F_HAS_NEXT, i));
      }
    }
  }

  /**
   * Loads the chain starting at {@code firstSeg}: every segment_info must have a valid replica,
   * chain to the next id, and be of the data type; generations are loaded.
   *
   * @throws IOException naming the segment and its media offset when the chain is broken
   */
  void load(int firstSeg) throws IOException {
    if (firstSeg != 0) {
      throw new IOException("cache " + media.name() + ": the segment chain starts at segment " + firstSeg
          + "; pcache supports one cache per device, starting at segment 0");
    }
    for (int i = 0; i < all.length; i++) {
      CacheSegment s = all[i];
      final int id = i;
      SegmentInfo info = s.info().load().orElseThrow(() -> new IOException("cache " + media.name()
          + ": segment " + id + " has no valid segment_info replica (media offset " + Layout.segmentOffset(id)
          + "); the cache is corrupt"));
      boolean last = i == all.length - 1;
      if (info.type() != Layout.SEG_TYPE_CACHE_DATA || info.hasNext() == last || (!last && info.nextSeg() != i + 1)) {
        throw new IOException("cache " + media.name() + ": segment " + i + " (media offset " + Layout.segmentOffset(i)
            + ") has segment_info flags 0x" + Integer.toHexString(info.flags()) + " next " + info.nextSeg()
            + ", which does not continue the chain of " + all.length + " segments; the cache is corrupt");
      }
      s.loadGen();
    }
  }

  /** A free segment for data (keeps one free for the log), waiting up to {@code wait}; null on timeout. */
  CacheSegment allocateData(Duration wait) throws InterruptedException {
    int id = wait.isZero() ? map.tryAllocate(1) : map.allocate(1, wait);
    return id < 0 ? null : all[id];
  }

  /** Drops a reference; invalidates the segment when it was the last. */
  void put(CacheSegment s) throws IOException {
    if (s.put()) {
      invalidate(s);
    }
  }

  private void invalidate(CacheSegment s) throws IOException {
    s.bumpGen();
    map.free(s.id);
    onInvalidate.accept(s.id);
  }

  /** Frees a kset segment that GC has passed (no generation bump: no key points into it). */
  void freeKsetSegment(int id) {
    map.free(id);
    onInvalidate.accept(id);
  }
}
