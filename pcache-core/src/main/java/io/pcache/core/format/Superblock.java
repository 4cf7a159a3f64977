package io.pcache.core.format;

import static io.pcache.core.format.Meta.U32;
import static io.pcache.core.format.Meta.U64;

import java.lang.foreign.MemorySegment;

/**
 * The superblock at byte 4096 (24 bytes): {@code +0 crc | +4 flags | +8 magic u64 | +16 seg_num
 * u32 | +20 pad}. Written last when formatting, so a device whose superblock is valid was
 * completely formatted. Test vector: flags 0, seg_num 31 → crc 0x047F7742.
 *
 * @param flags bit 0: formatted by a big-endian host (pcache never sets it)
 * @param magic {@link Layout#SB_MAGIC} on a pcache device
 * @param segNum the number of 16 MiB segments on the device
 */
public record Superblock(int flags, long magic, int segNum) {

  public static Superblock decode(MemorySegment buf, long off) {
    return new Superblock(buf.get(U32, off + 4), buf.get(U64, off + 8), buf.get(U32, off + 16));
  }

  /** The stored CRC. */
  public static int storedCrc(MemorySegment buf, long off) {
    return buf.get(U32, off);
  }

  /** Whether the stored CRC matches the content. */
  public static boolean crcValid(MemorySegment buf, long off) {
    return storedCrc(buf, off) == Meta.crc(buf, off, Layout.SB_STRUCT_SIZE);
  }

  /** Writes all 24 bytes, CRC included. */
  public void encode(MemorySegment buf, long off) {
    buf.set(U32, off + 4, flags);
    buf.set(U64, off + 8, magic);
    buf.set(U32, off + 16, segNum);
    buf.set(U32, off + 20, 0);
    buf.set(U32, off, Meta.crc(buf, off, Layout.SB_STRUCT_SIZE));
  }
}
