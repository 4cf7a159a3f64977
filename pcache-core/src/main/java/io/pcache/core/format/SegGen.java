package io.pcache.core.format;

import static io.pcache.core.format.Meta.U64;
import static io.pcache.core.format.Meta.U8;
import static io.pcache.core.format.Meta.U32;

import java.lang.foreign.MemorySegment;

/**
 * seg_gen (16 bytes, two replicas at segment +8192 and +8208): {@code +0 header | +8 gen u64}.
 * The generation is bumped and persisted when a data segment is invalidated; a key whose seg_gen
 * is below its segment's gen is stale.
 */
public record SegGen(int seq, long gen) implements Replicated<SegGen> {

  public static SegGen decode(MemorySegment buf, long off) {
    return new SegGen(Byte.toUnsignedInt(buf.get(U8, off + 4)), buf.get(U64, off + 8));
  }

  @Override
  public void encode(MemorySegment buf, long off) {
    Replicated.encodeHeaderFields(buf, off, seq);
    buf.set(U64, off + 8, gen);
    buf.set(U32, off, Meta.crc(buf, off, Layout.SEG_GEN_STRUCT_SIZE));
  }

  @Override
  public SegGen withSeq(int newSeq) {
    return new SegGen(newSeq & 0xFF, gen);
  }
}
