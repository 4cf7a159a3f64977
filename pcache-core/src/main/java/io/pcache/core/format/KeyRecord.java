package io.pcache.core.format;

import static io.pcache.core.format.Meta.U32;
import static io.pcache.core.format.Meta.U64;

import java.lang.foreign.MemorySegment;

/**
 * An on-media cache key (40 bytes): {@code +0 off u64 (backing byte offset) | +8 len u32 | +12
 * flags u32 | +16 cache_seg_id u32 | +20 cache_seg_off u32 | +24 seg_gen u64 | +32 data_crc u32 |
 * +36 reserved u32}. Flags on media: 0 dirty (a user write), 2 CLEAN (a read-miss fill). A key
 * never crosses a 4 MiB boundary of the backing device nor the end of a segment's data area, and
 * {@code len} is a multiple of 512.
 */
public record KeyRecord(long off, int len, int flags, int segId, int segOff, long segGen, int dataCrc) {

  public static KeyRecord decode(MemorySegment buf, long at) {
    return new KeyRecord(buf.get(U64, at), buf.get(U32, at + 8), buf.get(U32, at + 12), buf.get(U32, at + 16),
        buf.get(U32, at + 20), buf.get(U64, at + 24), buf.get(U32, at + 32));
  }

  /** Writes all 40 bytes; reserved is zero. */
  public void encode(MemorySegment buf, long at) {
    buf.set(U64, at, off);
    buf.set(U32, at + 8, len);
    buf.set(U32, at + 12, flags);
    buf.set(U32, at + 16, segId);
    buf.set(U32, at + 20, segOff);
    buf.set(U64, at + 24, segGen);
    buf.set(U32, at + 32, dataCrc);
    buf.set(U32, at + 36, 0);
  }

  public boolean clean() {
    return (flags & Layout.KEY_F_CLEAN) != 0;
  }

  /** The backing byte offset just after this key. */
  public long end() {
    return off + Integer.toUnsignedLong(len);
  }
}
