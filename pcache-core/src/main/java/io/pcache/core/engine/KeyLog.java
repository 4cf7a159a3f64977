package io.pcache.core.engine;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.format.CachePos;
import io.pcache.core.format.Kset;
import io.pcache.core.format.Layout;
import io.pcache.core.format.Replicas;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The kset log: where closed ksets are appended (key_head) and the two persisted tails
 * (key_tail, moved by GC; dirty_tail, moved by writeback). In log order key_tail ≤ dirty_tail ≤
 * key_head: ksets before key_tail are dead, those up to dirty_tail are written back and
 * reclaimable, the rest are dirty.
 *
 * <h2>Persist ordering</h2>
 *
 * <ul>
 *   <li>A new kset segment has its whole data area zeroed and persisted (dm-pcache: its first 24
 *       bytes) before the LAST kset that chains to it is written, and the LAST kset is persisted
 *       before key_head moves into the new segment.
 *   <li>Each kset: the 24-byte zero terminator after it is persisted first, then the kset itself,
 *       then key_head moves. (dm-pcache writes both under one barrier; a crash could then persist
 *       the kset but not the terminator and let replay run on into an intact kset of an earlier
 *       lap. Two barriers close that window.)
 *   <li>The head is published (a volatile) only after its kset is persisted, so writeback never
 *       reads a kset still being written.
 * </ul>
 *
 * <p>key_head is not persisted: replay finds it.
 */
final class KeyLog {

  private final CacheMedia media;
  private final SegmentMap map;
  private final Duration segmentWait;
  private final ReentrantLock headLock = new ReentrantLock();
  private final MemorySegment zeros;
  private final Replicas<CachePos> keyTailReplicas;
  private final Replicas<CachePos> dirtyTailReplicas;
  private final ReentrantLock tailLock = new ReentrantLock();
  private DataPersister data;
  private LogPos head;
  private volatile LogPos publishedHead;
  private volatile LogPos keyTail;
  private volatile LogPos dirtyTail;
  private final java.util.Set<Integer> ksetSegments = java.util.concurrent.ConcurrentHashMap.newKeySet();
  /**
   * Ksets (not counting LAST ksets) in the log since the engine opened, plus those replay found
   * after dirty_tail: the kset count writeback must pass ({@link Writeback#passedKsets}) for the
   * backing device to hold everything logged so far. Written under {@link #headLock}.
   */
  private volatile long appendedKsets;

  KeyLog(CacheMedia media, SegmentMap map, Duration segmentWait) {
    this.media = media;
    this.map = map;
    this.segmentWait = segmentWait;
    this.zeros = Arena.ofAuto().allocate(Layout.KSET_HEADER_SIZE, 8);
    long ctrl = Layout.CACHE_CTRL_OFF;
    this.keyTailReplicas = new Replicas<>(media, ctrl, Layout.POS_STRUCT_SIZE, Layout.POS_STRUCT_SIZE, CachePos::decode);
    this.dirtyTailReplicas = new Replicas<>(media, ctrl + 2L * Layout.POS_STRUCT_SIZE, Layout.POS_STRUCT_SIZE,
        Layout.POS_STRUCT_SIZE, CachePos::decode);
  }

  /** Where queued data ranges are persisted before each kset (page-cache media). */
  void dataPersister(DataPersister persister) {
    this.data = persister;
  }

  /**
   * A new cache: segment 0's data area zeroed (it is the first kset segment), all three positions
   * at segment 0, offset 0; dirty_tail then key_tail persisted (seq 1).
   */
  void format() throws IOException {
    zeroDataArea(0);
    keyTailReplicas.reset();
    dirtyTailReplicas.reset();
    LogPos start = new LogPos(0, 0);
    writeDirtyTail(start);
    writeKeyTail(start);
    setHead(start);
    ksetSegments.add(0);
  }

  /**
   * Loads both tails.
   *
   * @throws IOException when either has no valid replica ("corrupted key tail or dirty tail")
   */
  void loadTails() throws IOException {
    CachePos kt = keyTailReplicas.load().orElseThrow(() -> new IOException(
        "cache " + media.name() + ": no valid replica of key_tail at offset " + Layout.CACHE_CTRL_OFF
            + " (corrupted key tail); the cache cannot be started, reformat with 'pcache format --force'"));
    CachePos dt = dirtyTailReplicas.load().orElseThrow(() -> new IOException(
        "cache " + media.name() + ": no valid replica of dirty_tail at offset " + (Layout.CACHE_CTRL_OFF + 32)
            + " (corrupted dirty tail); the cache cannot be started, reformat with 'pcache format --force'"));
    keyTail = new LogPos(kt.segId(), kt.segOff());
    dirtyTail = new LogPos(dt.segId(), dt.segOff());
  }

  LogPos keyTail() {
    return keyTail;
  }

  LogPos dirtyTail() {
    return dirtyTail;
  }

  /** key_head as published: every kset before it is complete and persisted. */
  LogPos head() {
    return publishedHead;
  }

  /** Sets key_head (format and replay). */
  void setHead(LogPos pos) {
    headLock.lock();
    try {
      head = pos;
      publishedHead = pos;
    } finally {
      headLock.unlock();
    }
  }

  /** Ksets logged so far, counted as {@link #appendedKsets} says. */
  long appendedKsets() {
    return appendedKsets;
  }

  /** Sets the count of dirty ksets replay found (before writeback starts). */
  void replayedDirtyKsets(long n) {
    headLock.lock();
    try {
      appendedKsets = n;
    } finally {
      headLock.unlock();
    }
  }

  /** Remembers that a segment holds ksets (replay), for status. */
  void noteKsetSegment(int segId) {
    ksetSegments.add(segId);
  }

  void forgetKsetSegment(int segId) {
    ksetSegments.remove(segId);
  }

  boolean ksetSegment(int segId) { return ksetSegments.contains(segId); } // hook for Gc (wt-gcwb, issue #16)

  int ksetSegmentCount() {
    return ksetSegments.size();
  }

  /** Persists a new dirty_tail (writeback, after the backing device was flushed). */
  void writeDirtyTail(LogPos pos) throws IOException {
    tailLock.lock();
    try {
      dirtyTailReplicas.update(new CachePos(0, pos.segId(), pos.off()));
      dirtyTail = pos;
    } finally {
      tailLock.unlock();
    }
  }

  /** Persists a new key_tail (GC). */
  void writeKeyTail(LogPos pos) throws IOException {
    tailLock.lock();
    try {
      keyTailReplicas.update(new CachePos(0, pos.segId(), pos.off()));
      keyTail = pos;
    } finally {
      tailLock.unlock();
    }
  }

  /**
   * Appends a closed kset: {@code count} keys already encoded in {@code buf} after its header.
   * Takes a new kset segment when the current one has no room for the kset plus a LAST kset,
   * waiting for one if the cache is full.
   *
   * @throws IOException when persisting fails, or no segment became free within the wait
   */
  void append(MemorySegment buf, int count) throws IOException, InterruptedException {
    int size = Kset.sizeOf(count);
    headLock.lock();
    try {
      if (Layout.SEG_DATA_SIZE - head.off() < size + Layout.KSET_HEADER_SIZE) {
        chainNewSegment();
      }
      if (data != null) {
        data.drain(); // data before key
      }
      Kset.seal(buf, 0, count);
      long at = Layout.dataOffset(head.segId(), head.off());
      media.write(at + size, zeros);
      media.persist(at + size, Layout.KSET_HEADER_SIZE);
      media.write(at, buf.asSlice(0, size));
      media.persist(at, size);
      head = new LogPos(head.segId(), head.off() + size);
      appendedKsets++;
      publishedHead = head;
    } finally {
      headLock.unlock();
    }
  }

  /**
   * Zeroes a segment's whole data area before it becomes a kset segment (dm-pcache zeroes only its
   * first 24 bytes). Then no kset of an earlier life of the segment survives behind the log's
   * head, so a valid kset after a bad one is always this log's: what lets {@link LogTail} tell a
   * corrupt kset from a torn one by what follows it. 16 MiB once per kset segment, that is once
   * per some 400,000 keys (a few ms on memory-speed media, under the head lock).
   */
  private void zeroDataArea(int seg) throws IOException {
    long start = Layout.dataOffset(seg, 0);
    long chunk = Math.min(Layout.SEG_DATA_SIZE, ZERO_CHUNK.byteSize());
    for (long off = 0; off < Layout.SEG_DATA_SIZE; off += chunk) {
      long n = Math.min(chunk, Layout.SEG_DATA_SIZE - off);
      media.write(start + off, ZERO_CHUNK.asSlice(0, n));
    }
    media.persist(start, Layout.SEG_DATA_SIZE);
  }

  private static final MemorySegment ZERO_CHUNK = Arena.global().allocate(1 << 20, 4096);

  private void chainNewSegment() throws IOException, InterruptedException {
    int seg = map.allocate(0, segmentWait);
    if (seg < 0) {
      throw new IOException("cache " + media.name() + " is full: no free segment for the kset log after "
          + segmentWait.toSeconds() + " s (is writeback stuck? check the backing device)");
    }
    zeroDataArea(seg);
    MemorySegment last = Arena.ofAuto().allocate(Layout.KSET_HEADER_SIZE, 8);
    Kset.encodeLast(last, 0, seg);
    long at = Layout.dataOffset(head.segId(), head.off());
    media.write(at, last);
    media.persist(at, Layout.KSET_HEADER_SIZE);
    ksetSegments.add(seg);
    head = new LogPos(seg, 0);
    publishedHead = head;
  }
}
