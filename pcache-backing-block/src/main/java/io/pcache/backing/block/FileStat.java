package io.pcache.backing.block;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * What {@code statx(2)} tells about a path or descriptor: its type, size, direct-I/O alignment and
 * the numbers that identify it.
 *
 * @param mode {@code st_mode}: type and permission bits
 * @param size the size in bytes (0 for block devices: ask the device with {@code BLKGETSIZE64})
 * @param dioReported whether the kernel reported direct-I/O alignment ({@code STATX_DIOALIGN},
 *     Linux 6.1 and later, on file systems that implement it)
 * @param dioMemAlign the alignment direct I/O needs for memory addresses; 0 when reported means
 *     "direct I/O is not supported on this file"
 * @param dioOffsetAlign the alignment direct I/O needs for file offsets and lengths
 * @param ino {@code st_ino}: the inode number within its file system
 * @param dev {@code st_dev}: the device of the file system that holds it ({@code major:minor})
 * @param rdev {@code st_rdev}: for a block device, its own device number ({@code major:minor})
 */
record FileStat(int mode, long size, boolean dioReported, int dioMemAlign, int dioOffsetAlign, long ino, DevNum dev,
    DevNum rdev) {

  /** A device number. */
  record DevNum(int major, int minor) {
    @Override
    public String toString() {
      return Integer.toUnsignedString(major) + ":" + Integer.toUnsignedString(minor);
    }
  }

  /** {@code sizeof(struct statx)}. */
  static final int SIZE = 256;

  private static final int STATX_TYPE = 0x1;
  private static final int STATX_MODE = 0x2;
  private static final int STATX_INO = 0x100;
  private static final int STATX_SIZE = 0x200;
  private static final int STATX_DIOALIGN = 0x2000;
  private static final int MASK = STATX_TYPE | STATX_MODE | STATX_INO | STATX_SIZE | STATX_DIOALIGN;

  private static final int S_IFMT = 0170000;
  private static final int S_IFBLK = 0060000;
  private static final int S_IFREG = 0100000;
  private static final int S_IFDIR = 0040000;
  private static final int S_IFCHR = 0020000;

  /** Stats {@code path}, following symbolic links. */
  static FileStat ofPath(String path) throws ErrnoException {
    return stat(Posix.AT_FDCWD, path, 0);
  }

  /** Stats an open descriptor. */
  static FileStat ofFd(int fd) throws ErrnoException {
    return stat(fd, "", Posix.AT_EMPTY_PATH);
  }

  private static FileStat stat(int dirfd, String path, int flags) throws ErrnoException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(SIZE, 8);
      int r = Posix.statx(dirfd, path, flags, MASK, buf);
      if (r < 0) {
        throw new ErrnoException("statx", -r);
      }
      int mask = buf.get(ValueLayout.JAVA_INT, 0);
      boolean dio = (mask & STATX_DIOALIGN) != 0;
      return new FileStat(
          Short.toUnsignedInt(buf.get(ValueLayout.JAVA_SHORT, 28)),
          buf.get(ValueLayout.JAVA_LONG, 40),
          dio,
          dio ? buf.get(ValueLayout.JAVA_INT, 152) : 0,
          dio ? buf.get(ValueLayout.JAVA_INT, 156) : 0,
          buf.get(ValueLayout.JAVA_LONG, 32),
          new DevNum(buf.get(ValueLayout.JAVA_INT, 136), buf.get(ValueLayout.JAVA_INT, 140)),
          new DevNum(buf.get(ValueLayout.JAVA_INT, 128), buf.get(ValueLayout.JAVA_INT, 132)));
    }
  }

  /** A block device. */
  boolean isBlockDevice() {
    return (mode & S_IFMT) == S_IFBLK;
  }

  /** A regular file. */
  boolean isRegularFile() {
    return (mode & S_IFMT) == S_IFREG;
  }

  /** The file type in words, for messages. */
  String typeName() {
    return switch (mode & S_IFMT) {
      case S_IFBLK -> "a block device";
      case S_IFREG -> "a regular file";
      case S_IFDIR -> "a directory";
      case S_IFCHR -> "a character device";
      default -> "a special file (mode 0" + Integer.toOctalString(mode) + ")";
    };
  }

  /** Whether a {@code unix:mode} value (from {@link java.nio.file.Files#getAttribute}) is a block device. */
  static boolean isBlockDeviceMode(int mode) {
    return (mode & S_IFMT) == S_IFBLK;
  }

  /** Whether a {@code unix:mode} value is a regular file. */
  static boolean isRegularFileMode(int mode) {
    return (mode & S_IFMT) == S_IFREG;
  }
}
