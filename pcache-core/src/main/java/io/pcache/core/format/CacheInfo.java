package io.pcache.core.format;

import static io.pcache.core.format.Meta.U32;
import static io.pcache.core.format.Meta.U8;

import java.lang.foreign.MemorySegment;

/**
 * cache_info (24 bytes, two replicas at 8192 and 12288): {@code +0 header (crc, seq u8, version
 * u8, res u16) | +8 seg_id | +12 n_segs | +16 flags | +20 reserved}. Flags: bit 0 DATA_CRC, bit 1
 * INIT_DONE, bits 2-5 cache mode (0 = writeback), bits 6-12 gc_percent. Test vector: seq 1,
 * seg_id 0, n_segs 31, flags 0x1182 → crc 0xDDCAFE6D.
 */
public record CacheInfo(int seq, int segId, int nSegs, int flags) implements Replicated<CacheInfo> {

  public static CacheInfo decode(MemorySegment buf, long off) {
    return new CacheInfo(Byte.toUnsignedInt(buf.get(U8, off + 4)), buf.get(U32, off + 8), buf.get(U32, off + 12),
        buf.get(U32, off + 16));
  }

  @Override
  public void encode(MemorySegment buf, long off) {
    Replicated.encodeHeaderFields(buf, off, seq);
    buf.set(U32, off + 8, segId);
    buf.set(U32, off + 12, nSegs);
    buf.set(U32, off + 16, flags);
    buf.set(U32, off + 20, 0);
    buf.set(U32, off, Meta.crc(buf, off, Layout.CACHE_INFO_STRUCT_SIZE));
  }

  @Override
  public CacheInfo withSeq(int newSeq) {
    return new CacheInfo(newSeq & 0xFF, segId, nSegs, flags);
  }

  public boolean dataCrc() {
    return (flags & Layout.CACHE_INFO_F_DATA_CRC) != 0;
  }

  public boolean initDone() {
    return (flags & Layout.CACHE_INFO_F_INIT_DONE) != 0;
  }

  public int cacheMode() {
    return (flags & Layout.CACHE_INFO_CACHE_MODE_MASK) >>> Layout.CACHE_INFO_CACHE_MODE_SHIFT;
  }

  public int gcPercent() {
    return (flags & Layout.CACHE_INFO_GC_PERCENT_MASK) >>> Layout.CACHE_INFO_GC_PERCENT_SHIFT;
  }

  public CacheInfo withGcPercent(int percent) {
    return new CacheInfo(seq, segId, nSegs, (flags & ~Layout.CACHE_INFO_GC_PERCENT_MASK)
        | ((percent << Layout.CACHE_INFO_GC_PERCENT_SHIFT) & Layout.CACHE_INFO_GC_PERCENT_MASK));
  }

  public CacheInfo withFlag(int flag, boolean on) {
    return new CacheInfo(seq, segId, nSegs, on ? flags | flag : flags & ~flag);
  }

  /** A new cache's info before INIT_DONE: gc_percent 70, writeback mode, DATA_CRC as asked. */
  public static CacheInfo fresh(int nSegs, boolean dataCrc) {
    return new CacheInfo(0, 0, nSegs, (dataCrc ? Layout.CACHE_INFO_F_DATA_CRC : 0)
        | (Layout.GC_PERCENT_DEFAULT << Layout.CACHE_INFO_GC_PERCENT_SHIFT));
  }
}
