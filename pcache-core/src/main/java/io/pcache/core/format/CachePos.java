package io.pcache.core.format;

import static io.pcache.core.format.Meta.U32;
import static io.pcache.core.format.Meta.U8;

import java.lang.foreign.MemorySegment;

/**
 * pos_onmedia (16 bytes): {@code +0 header | +8 cache_seg_id u32 | +12 seg_off u32}, a position in
 * the kset log: the offset inside the data area of a cache segment. cache_ctrl keeps two replicas
 * of key_tail at 16384 and 16400, and two of dirty_tail at 16416 and 16432. Test vector: seq 1,
 * seg 0, off 0 → crc 0x6EF5DFB0.
 */
public record CachePos(int seq, int segId, int segOff) implements Replicated<CachePos> {

  public static CachePos decode(MemorySegment buf, long off) {
    return new CachePos(Byte.toUnsignedInt(buf.get(U8, off + 4)), buf.get(U32, off + 8), buf.get(U32, off + 12));
  }

  @Override
  public void encode(MemorySegment buf, long off) {
    Replicated.encodeHeaderFields(buf, off, seq);
    buf.set(U32, off + 8, segId);
    buf.set(U32, off + 12, segOff);
    buf.set(U32, off, Meta.crc(buf, off, Layout.POS_STRUCT_SIZE));
  }

  @Override
  public CachePos withSeq(int newSeq) {
    return new CachePos(newSeq & 0xFF, segId, segOff);
  }

  /** {@code seg:off}, as in the dm-pcache status line. */
  @Override
  public String toString() {
    return Integer.toUnsignedString(segId) + ":" + Integer.toUnsignedString(segOff);
  }
}
