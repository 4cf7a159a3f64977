package io.pcache.core.engine;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.format.Layout;
import io.pcache.core.format.Replicas;
import io.pcache.core.format.SegGen;
import io.pcache.core.format.SegmentInfo;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * One 16 MiB cache segment in memory: its generation, its reference count, and the replicas of its
 * segment_info and seg_gen on the media.
 *
 * <p>References: one per on-media key that points into the segment and that GC has not yet
 * passed, plus one while the segment is a data head. When the count drops to zero the segment is
 * invalidated: its generation is bumped and persisted, then it is returned to the free map. Every
 * key that still points into it is then stale ({@code key.segGen < gen}) and is dropped when met.
 *
 * <p>The generation lock: cache hits copy data out under the read lock after checking the key's
 * generation; invalidation bumps the generation under the write lock. So a hit either finishes
 * before the segment can be reused, or sees the new generation and treats the key as stale.
 */
final class CacheSegment {

  final int id;
  final long dataOffset;
  private final AtomicInteger refs = new AtomicInteger();
  private final ReentrantReadWriteLock genLock = new ReentrantReadWriteLock();
  private volatile long gen;
  private final Replicas<SegGen> genReplicas;
  private final Replicas<SegmentInfo> infoReplicas;

  CacheSegment(CacheMedia media, int id) {
    this.id = id;
    long base = Layout.segmentOffset(id);
    this.dataOffset = base + Layout.SEG_DATA_OFF;
    this.genReplicas = new Replicas<>(media, base + Layout.SEG_CTRL_OFF, Layout.SEG_GEN_STRUCT_SIZE,
        Layout.SEG_GEN_STRUCT_SIZE, SegGen::decode);
    this.infoReplicas = new Replicas<>(media, base, Layout.SEG_INFO_SIZE, Layout.SEG_INFO_STRUCT_SIZE,
        SegmentInfo::decode);
  }

  long gen() {
    return gen;
  }

  Replicas<SegmentInfo> info() {
    return infoReplicas;
  }

  /** Loads the generation; no valid replica means generation 0 (as upstream). */
  void loadGen() {
    gen = genReplicas.load().map(SegGen::gen).orElse(0L);
  }

  /** A freshly formatted segment: generation 0, written with seq 1. */
  void formatGen() throws IOException {
    genReplicas.reset();
    gen = 0;
    genReplicas.update(new SegGen(0, 0));
  }

  void get() {
    refs.incrementAndGet();
  }

  /** Drops a reference; returns true when it was the last one (the caller then invalidates). */
  boolean put() {
    int left = refs.decrementAndGet();
    if (left < 0) {
      throw new IllegalStateException("segment " + id + " reference count went negative");
    }
    return left == 0;
  }

  int refs() {
    return refs.get();
  }

  /**
   * Bumps the generation in memory, then persists it; afterwards every key into this segment is
   * stale. When the persist throws, the generation stays bumped in memory (the keys into the
   * segment are stale for this run either way) and the caller must not reuse the segment until
   * {@link #persistGen} succeeded: after a crash, a reused segment whose bump was not durable
   * would let the keys of its previous life replay as current.
   */
  void bumpGen() throws IOException {
    genLock.writeLock().lock();
    try {
      gen++;
    } finally {
      genLock.writeLock().unlock();
    }
    persistGen();
  }

  /** Persists the generation in memory (again, after a failed {@link #bumpGen}). */
  void persistGen() throws IOException {
    genReplicas.update(new SegGen(0, gen));
  }

  /** Acquires the generation read lock and checks {@code keyGen}; false (and unlocked) when stale. */
  boolean lockIfCurrent(long keyGen) {
    genLock.readLock().lock();
    if (keyGen < gen) {
      genLock.readLock().unlock();
      return false;
    }
    return true;
  }

  void unlockRead() {
    genLock.readLock().unlock();
  }
}
