package io.pcache.core.engine;

import io.pcache.core.format.Layout;

/**
 * A key in the index: a range of the backing device and where its data sits in the cache.
 * Mutable only under the lock of its {@link Stripe} (trims and splits), and only while it is not
 * in the stripe's map when {@code off} changes.
 *
 * <p>Three kinds, as in dm-pcache: dirty (written by a user, must be written back), clean (filled
 * from the backing device on a read miss) and empty (a placeholder for a read miss in flight, no
 * cache position, never stale).
 *
 * <p>With data CRCs on, {@code crc} covers the key's <em>original</em> extent ({@code crcSegOff},
 * {@code crcLen} in segment {@code segId}), which trims and splits leave in place: a hit verifies
 * the whole original extent, whose data never changes while the segment's generation holds.
 */
final class CacheKey {

  static final int EMPTY = Layout.KEY_F_EMPTY;
  static final int CLEAN = Layout.KEY_F_CLEAN;

  long off;
  int len;
  int flags;
  int segId;
  int segOff;
  long segGen;
  int crc;
  int crcSegOff;
  int crcLen;

  CacheKey(long off, int len, int flags, int segId, int segOff, long segGen, int crc) {
    this.off = off;
    this.len = len;
    this.flags = flags;
    this.segId = segId;
    this.segOff = segOff;
    this.segGen = segGen;
    this.crc = crc;
    this.crcSegOff = segOff;
    this.crcLen = len;
  }

  static CacheKey placeholder(long off, int len) {
    return new CacheKey(off, len, EMPTY, -1, 0, 0, 0);
  }

  long end() {
    return off + len;
  }

  boolean empty() {
    return (flags & EMPTY) != 0;
  }

  boolean clean() {
    return (flags & CLEAN) != 0;
  }

  /** Drops the first {@code n} bytes (the cache position moves with them). */
  void cutFront(long n) {
    off += n;
    len -= (int) n;
    if (!empty()) {
      segOff += (int) n;
    }
  }

  /** Keeps only the first {@code n} bytes. */
  void cutBack(long n) {
    len = (int) n;
  }

  /** A copy of the part from {@code from} to the end (for splits). */
  CacheKey tailFrom(long from) {
    CacheKey t = new CacheKey(off, len, flags, segId, segOff, segGen, crc);
    t.crcSegOff = crcSegOff;
    t.crcLen = crcLen;
    t.cutFront(from - off);
    return t;
  }

  @Override
  public String toString() {
    return (empty() ? "empty" : clean() ? "clean" : "dirty") + "[" + off + "+" + len + (empty() ? "" : " @" + segId
        + ":" + segOff + " gen " + segGen) + "]";
  }
}
