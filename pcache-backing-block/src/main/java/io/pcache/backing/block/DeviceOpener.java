package io.pcache.backing.block;

import io.pcache.api.backing.BackingOptions;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Opens, claims and measures a block device or image file: everything {@link BlockBackingDevice}
 * needs done once.
 *
 * <ol>
 *   <li>A missing regular file is created when {@link BackingOptions#createSize()} is set: {@code
 *       open(O_CREAT | O_EXCL)}, {@code ftruncate} to that size (sparse), mode 0600.
 *   <li>{@code open} with {@code O_RDWR} ({@code O_RDONLY} read-only), {@code O_CLOEXEC}, {@code
 *       O_DIRECT} for direct I/O, and {@code O_EXCL} on block devices: the kernel's exclusive
 *       claim, which a mounted device or one held by another program (md, dm, another pcache)
 *       refuses with {@code EBUSY}.
 *   <li>{@code flock(LOCK_EX | LOCK_NB)} ({@code LOCK_SH} read-only): the claim between pcache
 *       processes, on image files too. It goes with the descriptor, so a crash releases it.
 *   <li>Geometry: block devices by {@code BLKGETSIZE64} and {@code BLKSSZGET}; regular files have
 *       512-byte blocks (more when O_DIRECT needs it, from {@code statx(STATX_DIOALIGN)}) and their
 *       size rounded down to a whole block.
 *   <li>Identity: see {@link DeviceIdentity}.
 * </ol>
 *
 * Every failure is an {@link IOException} whose message names the device and says why.
 */
final class DeviceOpener {

  private static final int FILE_BLOCK_SIZE = 512;

  private DeviceOpener() {}

  /**
   * Opens {@code path} as the device called {@code name}.
   *
   * @throws NoSuchFileException when it does not exist and no create size is given
   * @throws IOException when it cannot be opened, claimed or measured
   */
  static BlockBackingDevice open(String name, String path, BackingOptions options) throws IOException {
    Posix.checkAvailable(name);
    FileStat stat = stat(name, path);
    boolean created = false;
    if (stat == null) {
      created = create(name, path, options);
      stat = stat(name, path);
      if (stat == null) {
        throw new NoSuchFileException(name, null, "disappeared right after it was created");
      }
    }
    try {
      return openExisting(name, path, stat, options);
    } catch (ClaimRefused e) {
      throw e; // someone else has it now: their file, not ours to delete
    } catch (IOException | RuntimeException e) {
      if (created) {
        try {
          Files.deleteIfExists(Path.of(path));
        } catch (IOException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
  }

  /** The refusal of an exclusive claim: the device is in use. */
  static final class ClaimRefused extends IOException {
    ClaimRefused(String message) {
      super(message);
    }
  }

  private static FileStat stat(String name, String path) throws IOException {
    try {
      return FileStat.ofPath(path);
    } catch (ErrnoException e) {
      if (e.errno() == Posix.ENOENT) {
        return null;
      }
      throw new IOException("cannot open backing device " + name + ": " + e.getMessage());
    }
  }

  /** Creates a sparse image file; false when someone else created it first. */
  private static boolean create(String name, String path, BackingOptions options) throws IOException {
    long size = options.createSize();
    if (size == 0) {
      throw new NoSuchFileException(name, null, "does not exist (give a create size to create an image file)");
    }
    if (options.readOnly()) {
      throw new NoSuchFileException(name, null, "does not exist, and a read-only device is not created");
    }
    if (size % FILE_BLOCK_SIZE != 0) {
      throw new IOException("cannot create backing device " + name + ": the create size " + size + " is not a multiple of " + FILE_BLOCK_SIZE);
    }
    int fd = Posix.open(path, Posix.O_RDWR | Posix.O_CREAT | Posix.O_EXCL | Posix.O_CLOEXEC, 0600);
    if (fd == -Posix.EEXIST) {
      return false;
    }
    if (fd < 0) {
      throw new IOException("cannot create backing device " + name + ": open: " + Posix.describe(-fd));
    }
    int r = Posix.ftruncate(fd, size);
    Posix.close(fd);
    if (r < 0) {
      Files.deleteIfExists(Path.of(path));
      throw new IOException("cannot create backing device " + name + " with " + size + " bytes: ftruncate: " + Posix.describe(-r));
    }
    return true;
  }

  private static BlockBackingDevice openExisting(String name, String path, FileStat stat, BackingOptions options) throws IOException {
    if (!stat.isBlockDevice() && !stat.isRegularFile()) {
      throw new IOException("cannot open backing device " + name + ": it is " + stat.typeName() + ", not a block device or a regular file");
    }
    boolean block = stat.isBlockDevice();
    int flags = (options.readOnly() ? Posix.O_RDONLY : Posix.O_RDWR) | Posix.O_CLOEXEC
        | (options.directIo() ? Posix.O_DIRECT : 0) | (block ? Posix.O_EXCL : 0);
    int fd;
    do {
      fd = Posix.open(path, flags, 0);
    } while (fd == -Posix.EINTR);
    if (fd < 0) {
      throw openFailure(name, path, -fd, block, options);
    }
    try {
      FileStat opened = FileStat.ofFd(fd);
      if (opened.isBlockDevice() != block || (!block && !opened.isRegularFile())) {
        throw new IOException("cannot open backing device " + name + ": it was replaced while being opened (now " + opened.typeName() + ")");
      }
      claim(name, fd, options.readOnly());
      return block ? blockDevice(name, fd, path, opened, options) : imageFile(name, fd, path, opened, options);
    } catch (IOException | RuntimeException e) {
      Posix.close(fd);
      throw e;
    } catch (ErrnoException e) {
      Posix.close(fd);
      throw new IOException("cannot open backing device " + name + ": " + e.getMessage(), e);
    }
  }

  /** Takes the claim between pcache processes. */
  private static void claim(String name, int fd, boolean readOnly) throws IOException {
    int r;
    do {
      r = Posix.flock(fd, (readOnly ? Posix.LOCK_SH : Posix.LOCK_EX) | Posix.LOCK_NB);
    } while (r == -Posix.EINTR);
    if (r == -Posix.EWOULDBLOCK) {
      throw new ClaimRefused("backing device " + name + " is in use by another pcache process (it holds a lock on it)");
    }
    if (r < 0) {
      throw new IOException("cannot claim backing device " + name + ": flock: " + Posix.describe(-r));
    }
  }

  private static IOException openFailure(String name, String path, int errno, boolean block, BackingOptions options) {
    if (errno == Posix.EBUSY && block) {
      return heldByPcache(path)
          ? new ClaimRefused("backing device " + name + " is in use by another pcache process (it holds a lock on it)")
          : new ClaimRefused("backing device " + name + " is in use (mounted or claimed by another program): "
              + "the kernel refused the exclusive open (" + Posix.describe(errno) + ")");
    }
    if (errno == Posix.EINVAL && options.directIo()) {
      int probe = Posix.open(path, Posix.O_RDONLY | Posix.O_CLOEXEC, 0);
      if (probe >= 0) {
        Posix.close(probe);
        return directIoRefused(name, "the file system refused O_DIRECT (" + Posix.describe(errno) + ")");
      }
    }
    if (errno == Posix.ENOENT) {
      return new NoSuchFileException(name, null, "disappeared while being opened");
    }
    String hint = switch (errno) {
      case Posix.EACCES, Posix.EPERM -> "; permission denied: pcache needs read" + (options.readOnly() ? "" : " and write") + " access to it";
      case Posix.EROFS -> "; it is on a read-only file system or device: open it read-only";
      default -> "";
    };
    return new IOException("cannot open backing device " + name + ": open: " + Posix.describe(errno) + hint);
  }

  /** Whether another process holds our flock on {@code path} (so its O_EXCL claim is pcache's). */
  private static boolean heldByPcache(String path) {
    int fd = Posix.open(path, Posix.O_RDONLY | Posix.O_CLOEXEC, 0);
    if (fd < 0) {
      return false;
    }
    try {
      return Posix.flock(fd, Posix.LOCK_EX | Posix.LOCK_NB) == -Posix.EWOULDBLOCK;
    } finally {
      Posix.close(fd); // also drops the lock if we got it
    }
  }

  private static IOException directIoRefused(String name, String why) {
    return new IOException("backing device " + name + " does not support direct I/O: " + why
        + "; turn direct I/O off for it (tmpfs before Linux 6.6, ramfs and some FUSE and network file systems cannot do O_DIRECT)");
  }

  private static BlockBackingDevice blockDevice(String name, int fd, String path, FileStat stat, BackingOptions options)
      throws IOException, ErrnoException {
    long size;
    int blockSize;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG);
      int r = Posix.ioctl(fd, Posix.BLKGETSIZE64, out);
      if (r < 0) {
        throw new ErrnoException("ioctl(BLKGETSIZE64)", -r);
      }
      size = out.get(ValueLayout.JAVA_LONG, 0);
      out.fill((byte) 0);
      r = Posix.ioctl(fd, Posix.BLKSSZGET, out);
      if (r < 0) {
        throw new ErrnoException("ioctl(BLKSSZGET)", -r);
      }
      blockSize = out.get(ValueLayout.JAVA_INT, 0);
    }
    if (blockSize < 512 || Integer.bitCount(blockSize) != 1) {
      throw new IOException("cannot open backing device " + name + ": unusable logical block size " + blockSize);
    }
    if (size <= 0) {
      throw new IOException("cannot open backing device " + name + ": its size is 0 (no medium, or an empty loop device?)");
    }
    size = size / blockSize * blockSize;
    return new BlockBackingDevice(name, fd, BlockBackingDevice.Kind.BLOCK_DEVICE, size, blockSize,
        options.directIo() ? blockSize : 1, options.directIo(), options.readOnly(),
        DeviceIdentity.SYSTEM.ofBlockDevice(stat.rdev(), fd, path, size));
  }

  private static BlockBackingDevice imageFile(String name, int fd, String path, FileStat stat, BackingOptions options)
      throws IOException {
    int blockSize = FILE_BLOCK_SIZE;
    int memoryAlignment = 1;
    if (options.directIo()) {
      if (stat.dioReported() && stat.dioMemAlign() == 0) {
        throw directIoRefused(name, "the file system reports no direct-I/O alignment for it (statx STATX_DIOALIGN)");
      }
      // Unreported (older kernels, some file systems): a page is safe everywhere.
      memoryAlignment = stat.dioReported() ? Math.max(1, stat.dioMemAlign()) : BouncePool.ALIGNMENT;
      blockSize = Math.max(FILE_BLOCK_SIZE, stat.dioReported() ? stat.dioOffsetAlign() : BouncePool.ALIGNMENT);
      if (memoryAlignment > BouncePool.ALIGNMENT || blockSize > BouncePool.CHUNK || Integer.bitCount(blockSize) != 1) {
        throw directIoRefused(name, "it needs memory aligned to " + memoryAlignment + " and I/O aligned to " + stat.dioOffsetAlign() + " bytes");
      }
    }
    long size = stat.size() / blockSize * blockSize;
    if (size == 0) {
      throw new IOException("cannot open backing device " + name + ": the image file holds " + stat.size()
          + " bytes, less than one " + blockSize + "-byte block (give it a size, e.g. with truncate -s)");
    }
    return new BlockBackingDevice(name, fd, BlockBackingDevice.Kind.REGULAR_FILE, size, blockSize, memoryAlignment, options.directIo(),
        options.readOnly(), DeviceIdentity.ofFile(fd, path, stat, size));
  }
}
