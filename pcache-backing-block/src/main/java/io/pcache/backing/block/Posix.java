package io.pcache.backing.block;

import io.pcache.backing.block.internal.LibC;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Locale;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Platform;
import jnr.ffi.Runtime;

/**
 * The native seam: every libc call of this module goes through here, and nothing else here is
 * native. Calls return what the syscall returns, or {@code -errno} on failure (the kernel's own
 * convention), so the hot path allocates nothing and callers translate errors once, naming the
 * device.
 *
 * <p>Constants are Linux's; they are the same on x86_64 and aarch64 except {@link #O_DIRECT}.
 * Linking happens on first use; when it fails (not Linux, no native access) {@link
 * #checkAvailable(String)} says what is missing.
 */
final class Posix {

  static final int O_RDONLY = 0;
  static final int O_RDWR = 2;
  static final int O_CREAT = 0100;
  static final int O_EXCL = 0200;
  static final int O_CLOEXEC = 02000000;
  /** 040000 on x86, 0200000 on arm and aarch64. */
  static final int O_DIRECT = System.getProperty("os.arch", "").startsWith("aarch64") || System.getProperty("os.arch", "").startsWith("arm") ? 0200000 : 040000;

  static final int LOCK_SH = 1;
  static final int LOCK_EX = 2;
  static final int LOCK_NB = 4;

  static final int FALLOC_FL_KEEP_SIZE = 0x01;
  static final int FALLOC_FL_PUNCH_HOLE = 0x02;
  static final int FALLOC_FL_ZERO_RANGE = 0x10;

  /** {@code _IOR(0x12, 114, size_t)}: the device size in bytes, a u64. */
  static final long BLKGETSIZE64 = 0x80081272L;
  /** {@code _IO(0x12, 104)}: the logical block size, an int. */
  static final long BLKSSZGET = 0x1268;
  /** {@code _IO(0x12, 119)}: discard the byte range {@code u64[2] {offset, length}}. */
  static final long BLKDISCARD = 0x1277;
  /** {@code _IO(0x12, 127)}: zero the byte range {@code u64[2] {offset, length}}. */
  static final long BLKZEROOUT = 0x127F;

  static final int AT_FDCWD = -100;
  static final int AT_EMPTY_PATH = 0x1000;

  static final int EPERM = 1;
  static final int ENOENT = 2;
  static final int EINTR = 4;
  static final int EIO = 5;
  static final int EAGAIN = 11;
  static final int EWOULDBLOCK = EAGAIN;
  static final int EACCES = 13;
  static final int EBUSY = 16;
  static final int EEXIST = 17;
  static final int EINVAL = 22;
  static final int ENOTTY = 25;
  static final int ENOSPC = 28;
  static final int EROFS = 30;
  static final int ENOSYS = 38;
  static final int EOVERFLOW = 75;
  static final int EOPNOTSUPP = 95;

  private Posix() {}

  /** Links libc once; holds the reason when it cannot. */
  private static final class Linked {
    static final LibC LIBC;
    static final Runtime RUNTIME;
    static final String FAILURE;

    static {
      LibC libc = null;
      Runtime runtime = null;
      String failure = null;
      String os = System.getProperty("os.name", "?");
      if (!os.toLowerCase(Locale.ROOT).startsWith("linux")) {
        failure = "block backing devices need Linux (this is " + os + ")";
      } else {
        try {
          libc = LibraryLoader.create(LibC.class).load(Platform.getNativePlatform().getStandardCLibraryName());
          runtime = Runtime.getRuntime(libc);
        } catch (LinkageError | RuntimeException e) {
          failure = "cannot call libc through JNR-FFI (" + e + "); launch with --enable-native-access=org.jnrproject.jffi"
              + " (ALL-UNNAMED on the class path); jnr-ffi needs org.objectweb.asm on the module path";
        }
      }
      LIBC = libc;
      RUNTIME = runtime;
      FAILURE = failure;
    }
  }

  /** Whether libc could be linked. */
  static boolean available() {
    return Linked.FAILURE == null;
  }

  /**
   * Throws an {@link IOException} naming {@code device} and what is missing when libc cannot be
   * called.
   */
  static void checkAvailable(String device) throws IOException {
    if (Linked.FAILURE != null) {
      throw new IOException("cannot open backing device " + device + ": " + Linked.FAILURE);
    }
  }

  private static LibC libc() {
    LibC libc = Linked.LIBC;
    if (libc == null) {
      throw new IllegalStateException(Linked.FAILURE);
    }
    return libc;
  }

  private static int errno() {
    return Linked.RUNTIME.getLastError();
  }

  private static int result(int r) {
    return r == -1 ? -errno() : r;
  }

  private static long result(long r) {
    return r == -1 ? -errno() : r;
  }

  /** {@code open(2)}: a file descriptor, or {@code -errno}. */
  static int open(String path, int flags, int mode) {
    return result(libc().open(path, flags, mode));
  }

  /** {@code close(2)}: 0 or {@code -errno}. Never retried: on Linux the descriptor is gone either way. */
  static int close(int fd) {
    return result(libc().close(fd));
  }

  /** {@code pread(2)} into the native memory at {@code address}: bytes read, or {@code -errno}. */
  static long pread(int fd, long address, long count, long offset) {
    return result(libc().pread(fd, address, count, offset));
  }

  /** {@code pwrite(2)} from the native memory at {@code address}: bytes written, or {@code -errno}. */
  static long pwrite(int fd, long address, long count, long offset) {
    return result(libc().pwrite(fd, address, count, offset));
  }

  /** {@code preadv2(2)} flag: fail with EAGAIN instead of waiting for the device. */
  static final int RWF_NOWAIT = 0x08;

  /**
   * {@code preadv2(RWF_NOWAIT)} into the native memory at {@code address}: bytes read (possibly
   * fewer than asked: those that were in the page cache), or {@code -errno} ({@code EAGAIN}: none
   * was; {@code EOPNOTSUPP}: the file cannot say).
   */
  static long preadNowait(int fd, long address, long count, long offset) {
    return result(libc().preadv2(fd, new long[] {address, count}, 1, offset, RWF_NOWAIT));
  }

  /** {@code fdatasync(2)}: 0 or {@code -errno}. */
  static int fdatasync(int fd) {
    return result(libc().fdatasync(fd));
  }

  /** {@code ftruncate(2)}: 0 or {@code -errno}. */
  static int ftruncate(int fd, long length) {
    return result(libc().ftruncate(fd, length));
  }

  /** {@code flock(2)}: 0 or {@code -errno}. */
  static int flock(int fd, int operation) {
    return result(libc().flock(fd, operation));
  }

  /** {@code ioctl(2)} with {@code arg} pointing at native memory: the result, or {@code -errno}. */
  static int ioctl(int fd, long request, MemorySegment arg) {
    return result(libc().ioctl(fd, request, arg.address()));
  }

  /** {@code fallocate(2)}: 0 or {@code -errno}. */
  static int fallocate(int fd, int mode, long offset, long length) {
    return result(libc().fallocate(fd, mode, offset, length));
  }

  /** {@code statx(2)} into {@code buf} ({@link FileStat#SIZE} bytes): 0 or {@code -errno}. */
  static int statx(int dirfd, String path, int flags, int mask, MemorySegment buf) {
    return result(libc().statx(dirfd, path, flags, mask, buf.address()));
  }

  /** {@code getpid(2)}. */
  static int getpid() {
    return libc().getpid();
  }

  /** The OS text for an errno with its number and name: {@code "Invalid argument (errno 22, EINVAL)"}. */
  static String describe(int errno) {
    String text = available() ? libc().strerror(errno) : null;
    String name = name(errno);
    return (text == null ? "error" : text) + " (errno " + errno + (name == null ? "" : ", " + name) + ")";
  }

  private static String name(int errno) {
    return switch (errno) {
      case EPERM -> "EPERM";
      case ENOENT -> "ENOENT";
      case EINTR -> "EINTR";
      case EIO -> "EIO";
      case 6 -> "ENXIO";
      case 9 -> "EBADF";
      case EAGAIN -> "EAGAIN";
      case 12 -> "ENOMEM";
      case EACCES -> "EACCES";
      case 14 -> "EFAULT";
      case EBUSY -> "EBUSY";
      case EEXIST -> "EEXIST";
      case 19 -> "ENODEV";
      case 20 -> "ENOTDIR";
      case 21 -> "EISDIR";
      case EINVAL -> "EINVAL";
      case 24 -> "EMFILE";
      case ENOTTY -> "ENOTTY";
      case 27 -> "EFBIG";
      case ENOSPC -> "ENOSPC";
      case EROFS -> "EROFS";
      case ENOSYS -> "ENOSYS";
      case EOVERFLOW -> "EOVERFLOW";
      case EOPNOTSUPP -> "EOPNOTSUPP";
      case 110 -> "ETIMEDOUT";
      case 122 -> "EDQUOT";
      case 123 -> "ENOMEDIUM";
      default -> null;
    };
  }
}
