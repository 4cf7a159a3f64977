package io.pcache.core.format;

/**
 * dm-pcache's on-media layout (Linux 6.18, {@code drivers/md/dm-pcache/}), byte for byte. Every
 * multi-byte field is little-endian (the kernel writes host order and records big-endian hosts in
 * the superblock; pcache always writes little-endian with that flag clear).
 *
 * <pre>
 *   0        4096       8192         12288        16384       20480
 *   | unused | sb (24B) | cache_info | cache_info | cache_ctrl | segment 0 | segment 1 | ...
 *                          slot 0       slot 1
 *   segment (16 MiB): | seg_info 0 | seg_info 1 | seg_ctrl (gen 0, gen 1) | data area (16 MiB - 12 KiB) |
 *                       +0           +4096        +8192                     +12288
 * </pre>
 */
public final class Layout {

  private Layout() {}

  public static final long KB = 1024;
  public static final long MB = 1024 * 1024;

  /** Every metadata item has this many replicas. */
  public static final int META_INDEX_MAX = 2;

  public static final long SB_MAGIC = 0x65B05EFA96C596EFL;
  public static final long KSET_MAGIC = 0x676894A64E164F1AL;

  public static final long SB_OFF = 4096;
  public static final long SB_SIZE = 4096;
  public static final long CACHE_INFO_OFF = 8192;
  /** Stride between the two cache_info slots. */
  public static final long CACHE_INFO_SIZE = 4096;
  public static final long CACHE_CTRL_OFF = 16384;
  public static final long CACHE_CTRL_SIZE = 4096;
  public static final long SEGMENTS_OFF = 20480;
  public static final long SEG_SIZE = 16 * MB;
  /** Stride between the two segment_info slots at the start of a segment. */
  public static final long SEG_INFO_SIZE = 4096;
  public static final long SEG_CTRL_OFF = 8192;
  public static final long SEG_CTRL_SIZE = 4096;
  /** Where a segment's data area starts, from the segment's start. */
  public static final long SEG_DATA_OFF = 12288;
  /** The data area of one segment: 16 MiB - 12 KiB = 16,764,928 bytes. */
  public static final long SEG_DATA_SIZE = SEG_SIZE - SEG_DATA_OFF;

  public static final long CACHE_DEV_SIZE_MIN = 512 * MB;
  public static final int CACHE_SEGS_MAX = 1 << 20;

  /** Index stripe and the longest a key can be: 4 MiB. */
  public static final int SUBTREE_SHIFT = 22;
  public static final long SUBTREE_SIZE = 1L << SUBTREE_SHIFT;

  public static final int KSET_KEYS_MAX = 128;
  public static final int KSET_HEADER_SIZE = 24;
  public static final int KEY_SIZE = 40;
  /** The largest kset: 24 + 128 * 40 = 5144 bytes. */
  public static final int KSET_SIZE_MAX = KSET_HEADER_SIZE + KSET_KEYS_MAX * KEY_SIZE;

  public static final int GC_PERCENT_MIN = 0;
  public static final int GC_PERCENT_MAX = 90;
  public static final int GC_PERCENT_DEFAULT = 70;

  // Struct sizes (x86-64 natural alignment).
  public static final int META_HEADER_SIZE = 8;
  public static final int SB_STRUCT_SIZE = 24;
  public static final int CACHE_INFO_STRUCT_SIZE = 24;
  public static final int POS_STRUCT_SIZE = 16;
  public static final int SEG_GEN_STRUCT_SIZE = 16;
  public static final int SEG_INFO_STRUCT_SIZE = 16;

  // Flags.
  public static final int SB_F_BIGENDIAN = 1;
  public static final int CACHE_INFO_F_DATA_CRC = 1;
  public static final int CACHE_INFO_F_INIT_DONE = 1 << 1;
  public static final int CACHE_INFO_CACHE_MODE_SHIFT = 2;
  public static final int CACHE_INFO_CACHE_MODE_MASK = 0xF << CACHE_INFO_CACHE_MODE_SHIFT;
  public static final int CACHE_INFO_GC_PERCENT_SHIFT = 6;
  public static final int CACHE_INFO_GC_PERCENT_MASK = 0x7F << CACHE_INFO_GC_PERCENT_SHIFT;
  public static final int KEY_F_EMPTY = 1;
  public static final int KEY_F_CLEAN = 1 << 1;
  public static final long KSET_F_LAST = 1;
  public static final int SEG_INFO_F_HAS_NEXT = 1;
  public static final int SEG_INFO_TYPE_SHIFT = 1;
  public static final int SEG_TYPE_CACHE_DATA = 1;

  /** Byte offset of segment {@code segId} on the media. */
  public static long segmentOffset(int segId) {
    return SEGMENTS_OFF + (long) segId * SEG_SIZE;
  }

  /** Byte offset of {@code segOff} inside the data area of segment {@code segId}. */
  public static long dataOffset(int segId, long segOff) {
    return segmentOffset(segId) + SEG_DATA_OFF + segOff;
  }

  /** How many segments fit on a media of {@code size} bytes. */
  public static long segmentsFor(long size) {
    return size < SEGMENTS_OFF ? 0 : (size - SEGMENTS_OFF) / SEG_SIZE;
  }
}
