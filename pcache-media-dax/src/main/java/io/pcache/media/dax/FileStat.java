package io.pcache.media.dax;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * What {@code statx(2)} tells about a path: its type, size, allocated bytes and whether the kernel
 * serves it with DAX ({@code STATX_ATTR_DAX}, Linux 5.8 and later).
 *
 * @param mode {@code st_mode}: type and permission bits
 * @param size the size in bytes
 * @param allocated the bytes of storage allocated to it ({@code stx_blocks * 512}); less than
 *     {@code size} for a sparse file
 * @param daxReported whether the kernel reports the DAX attribute at all ({@code
 *     stx_attributes_mask}); when it does not, only a {@code MAP_SYNC} mapping can tell
 * @param dax whether the file is accessed with DAX (meaningful when {@code daxReported})
 */
record FileStat(int mode, long size, long allocated, boolean daxReported, boolean dax) {

  /** {@code sizeof(struct statx)}. */
  static final int SIZE = 256;

  /** {@code STATX_ATTR_DAX}: the file is in the DAX (cpu direct access) state. */
  static final long STATX_ATTR_DAX = 0x00200000L;

  private static final int STATX_TYPE = 0x1;
  private static final int STATX_MODE = 0x2;
  private static final int STATX_SIZE = 0x200;
  private static final int STATX_BLOCKS = 0x400;
  private static final int MASK = STATX_TYPE | STATX_MODE | STATX_SIZE | STATX_BLOCKS;

  static final int S_IFMT = 0170000;
  static final int S_IFREG = 0100000;
  static final int S_IFCHR = 0020000;

  /**
   * Stats {@code path}, following symbolic links.
   *
   * @return the result, or {@code null} when {@code statx} failed (the file does not exist, or
   *     native calls are unavailable)
   */
  static FileStat ofPath(String path) {
    if (!Posix.available()) {
      return null;
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(SIZE, 8);
      if (Posix.statx(path, 0, MASK, buf) < 0) {
        return null;
      }
      long attributes = buf.get(ValueLayout.JAVA_LONG, 8);
      long attributesMask = buf.get(ValueLayout.JAVA_LONG, 56);
      return new FileStat(
          Short.toUnsignedInt(buf.get(ValueLayout.JAVA_SHORT, 28)),
          buf.get(ValueLayout.JAVA_LONG, 40),
          buf.get(ValueLayout.JAVA_LONG, 48) * 512,
          (attributesMask & STATX_ATTR_DAX) != 0,
          (attributes & STATX_ATTR_DAX) != 0);
    }
  }

  /** A regular file. */
  boolean isRegularFile() {
    return (mode & S_IFMT) == S_IFREG;
  }

  /** Fewer bytes allocated than the size: the file has holes. */
  boolean isSparse() {
    return allocated < size;
  }
}
