package io.pcache.core.engine;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.format.Layout;
import io.pcache.core.format.SegmentInfo;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntConsumer;

/**
 * All cache segments, their chain on the media, allocation and invalidation.
 *
 * <p>Invalidation (a data segment's last reference dropped): the generation is bumped and
 * persisted <em>before</em> the segment returns to the free map, so no key written for the
 * segment's next life can be confused with one from this life, even after a crash.
 *
 * <p>A generation bump that cannot be persisted (pcache's choice; upstream's cache_seg_gen_increase
 * has no failure path to follow, and {@code release()} here used to log and lose the segment):
 * the segment is <em>held</em>, kept out of the free map, so it is never reused without its bump
 * being durable; counted ({@code seg_gen_errors}, {@code segments_held}), logged at ERROR with its
 * media offset, and latched in {@link #lastError}. GC persists the held generations again at each
 * round ({@link #retryHeld}); one that succeeds frees its segment then, so none is lost until a
 * restart.
 */
final class Segments {

  private static final System.Logger LOG = System.getLogger("io.pcache.core.engine");

  private final CacheMedia media;
  private final CacheSegment[] all;
  private final SegmentMap map;
  private final IntConsumer onInvalidate;
  /** Segments whose generation bump is not yet durable: refs 0, out of the free map. */
  private final Set<Integer> held = ConcurrentHashMap.newKeySet();
  private volatile CacheStats stats;
  private volatile String lastError;

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

  /** Where the counters of held segments go (set once the engine runs). */
  void stats(CacheStats stats) {
    this.stats = stats;
  }

  /**
   * Drops a reference; invalidates the segment when it was the last. The reference is dropped
   * even when this throws: the caller must not drop it again.
   *
   * @throws IOException when the generation bump could not be persisted; the segment is then held
   *     (see the class notes), not lost and not reused
   */
  void put(CacheSegment s) throws IOException {
    if (s.put()) {
      invalidate(s);
    }
  }

  private void invalidate(CacheSegment s) throws IOException {
    try {
      s.bumpGen();
    } catch (IOException | RuntimeException e) {
      hold(s, e);
      throw new IOException(lastError, e);
    }
    map.free(s.id);
    onInvalidate.accept(s.id);
  }

  private void hold(CacheSegment s, Throwable e) {
    boolean added = held.add(s.id);
    lastError = Instant.now() + ": cannot persist generation " + s.gen() + " of segment " + s.id + " (media "
        + media.name() + " offset " + (Layout.segmentOffset(s.id) + Layout.SEG_CTRL_OFF) + " length "
        + Layout.SEG_GEN_STRUCT_SIZE + "): " + e.getMessage() + "; the segment is held out of use ("
        + held.size() + " held) until its generation is persisted";
    CacheStats st = stats;
    if (st != null) {
      st.segGenErrors.increment();
      if (added) {
        st.segmentsHeld.increment();
      }
    }
    if (added) { // a retry that fails again is counted, not logged again (GC retries at each round)
      LOG.log(System.Logger.Level.ERROR, "cache " + media.name() + ": " + lastError);
    }
  }

  /**
   * Persists the generation of every held segment again; each that succeeds is freed (as an
   * invalidation). Called by GC at each round.
   */
  void retryHeld() {
    for (Integer id : held) {
      CacheSegment s = all[id];
      try {
        s.persistGen();
      } catch (IOException | RuntimeException e) {
        hold(s, e);
        continue;
      }
      held.remove(id);
      LOG.log(System.Logger.Level.INFO, "cache " + media.name() + ": generation " + s.gen() + " of segment " + id
          + " persisted; the segment is free again");
      map.free(id);
      onInvalidate.accept(id);
      CacheStats st = stats;
      if (st != null) {
        st.segmentsHeld.decrement();
      }
    }
    if (held.isEmpty()) {
      lastError = null;
    }
  }

  /** Segments held because their generation bump is not durable. */
  int heldCount() {
    return held.size();
  }

  /** The last generation persist that failed, with its time, while a segment is held; else null. */
  String lastError() {
    return lastError;
  }

  /** Frees a kset segment that GC has passed (no generation bump: no key points into it). */
  void freeKsetSegment(int id) {
    map.free(id);
    onInvalidate.accept(id);
  }
}
