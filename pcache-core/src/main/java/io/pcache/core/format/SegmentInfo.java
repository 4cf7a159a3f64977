package io.pcache.core.format;

import static io.pcache.core.format.Meta.U32;
import static io.pcache.core.format.Meta.U8;

import java.lang.foreign.MemorySegment;

/**
 * segment_info (16 bytes, two replicas at segment +0 and +4096): {@code +0 header | +8 flags u32
 * | +12 next_seg u32}. Flags: bit 0 HAS_NEXT, bits 1-4 the segment type (1 = cache data); a
 * formatted cache chains its segments 0 → 1 → ... → n-1.
 */
public record SegmentInfo(int seq, int flags, int nextSeg) implements Replicated<SegmentInfo> {

  public static SegmentInfo decode(MemorySegment buf, long off) {
    return new SegmentInfo(Byte.toUnsignedInt(buf.get(U8, off + 4)), buf.get(U32, off + 8), buf.get(U32, off + 12));
  }

  @Override
  public void encode(MemorySegment buf, long off) {
    Replicated.encodeHeaderFields(buf, off, seq);
    buf.set(U32, off + 8, flags);
    buf.set(U32, off + 12, nextSeg);
    buf.set(U32, off, Meta.crc(buf, off, Layout.SEG_INFO_STRUCT_SIZE));
  }

  @Override
  public SegmentInfo withSeq(int newSeq) {
    return new SegmentInfo(newSeq & 0xFF, flags, nextSeg);
  }

  public boolean hasNext() {
    return (flags & Layout.SEG_INFO_F_HAS_NEXT) != 0;
  }

  public int type() {
    return (flags >>> Layout.SEG_INFO_TYPE_SHIFT) & 0xF;
  }
}
