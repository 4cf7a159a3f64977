package io.pcache.media.dax;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Locale;

/**
 * The native seam: every libc call of this module goes through here, through the FFM {@link
 * Linker} of {@code java.base} (no JNI, no jnr). Calls return what the system call returns, or
 * {@code -errno} on failure (the kernel's convention), and callers translate errors once, naming
 * the media.
 *
 * <p>What is used, and why it is not in the JDK: {@code statx} (the {@code STATX_ATTR_DAX}
 * attribute and the allocated blocks of a file), and for devdax character devices {@code open},
 * {@code flock}, {@code mmap}, {@code munmap} and {@code close}: {@code FileChannel.map} cannot map
 * a character device (it calls {@code ftruncate} because {@code fstat} reports size 0, which fails
 * with EINVAL). {@link CacheLines} uses {@code mmap} and {@code mprotect} for its code page.
 *
 * <p>Linking happens on first use; when it fails (not Linux, native access denied with {@code
 * --illegal-native-access=deny} and no {@code --enable-native-access=io.pcache.media.dax}) {@link
 * #unavailableReason()} says what is missing, and only what needs a call is refused: fsdax files
 * are mapped by the JDK and need no call of their own beyond an optional {@code statx}.
 */
final class Posix {

  static final int O_RDONLY = 0;
  static final int O_RDWR = 2;
  static final int O_CLOEXEC = 02000000;

  static final int LOCK_SH = 1;
  static final int LOCK_EX = 2;
  static final int LOCK_NB = 4;

  static final int PROT_READ = 1;
  static final int PROT_WRITE = 2;
  static final int PROT_EXEC = 4;
  static final int MAP_SHARED = 0x01;
  static final int MAP_PRIVATE = 0x02;
  static final int MAP_FIXED = 0x10;
  static final int MAP_ANONYMOUS = 0x20;
  static final int MAP_NORESERVE = 0x4000;

  static final int AT_FDCWD = -100;

  static final int ENOENT = 2;
  static final int EAGAIN = 11;
  static final int EACCES = 13;
  static final int EBUSY = 16;
  static final int EINVAL = 22;
  static final int ENOMEM = 12;
  static final int ENODEV = 19;
  static final int EOPNOTSUPP = 95;

  private Posix() {}

  /** Links libc once; holds the reason when it cannot. (Restricted methods: this is the seam.) */
  @SuppressWarnings("restricted")
  private static final class Linked {
    static final MethodHandle STATX;
    static final MethodHandle OPEN;
    static final MethodHandle CLOSE;
    static final MethodHandle FLOCK;
    static final MethodHandle MMAP;
    static final MethodHandle MUNMAP;
    static final MethodHandle MPROTECT;
    static final MethodHandle STRERROR;
    static final StructLayout CAPTURE;
    static final VarHandle ERRNO;
    static final String FAILURE;

    static {
      MethodHandle statx = null;
      MethodHandle open = null;
      MethodHandle close = null;
      MethodHandle flock = null;
      MethodHandle mmap = null;
      MethodHandle munmap = null;
      MethodHandle mprotect = null;
      MethodHandle strerror = null;
      StructLayout capture = null;
      VarHandle errno = null;
      String failure = null;
      String os = System.getProperty("os.name", "?");
      if (!os.toLowerCase(Locale.ROOT).startsWith("linux")) {
        failure = "DAX media needs Linux (this is " + os + ")";
      } else {
        try {
          Linker linker = Linker.nativeLinker();
          SymbolLookup libc = linker.defaultLookup();
          capture = Linker.Option.captureStateLayout();
          errno = capture.varHandle(PathElement.groupElement("errno"));
          Linker.Option saveErrno = Linker.Option.captureCallState("errno");
          statx = linker.downcallHandle(libc.find("statx").orElseThrow(),
              FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS), saveErrno);
          open = linker.downcallHandle(libc.find("open").orElseThrow(),
              FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), saveErrno, Linker.Option.firstVariadicArg(2));
          close = linker.downcallHandle(libc.find("close").orElseThrow(),
              FunctionDescriptor.of(JAVA_INT, JAVA_INT), saveErrno);
          flock = linker.downcallHandle(libc.find("flock").orElseThrow(),
              FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), saveErrno);
          mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(),
              FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), saveErrno);
          munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(),
              FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG), saveErrno);
          mprotect = linker.downcallHandle(libc.find("mprotect").orElseThrow(),
              FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT), saveErrno);
          strerror = linker.downcallHandle(libc.find("strerror").orElseThrow(),
              FunctionDescriptor.of(ADDRESS, JAVA_INT));
        } catch (IllegalCallerException e) {
          failure = "native access is denied to module io.pcache.media.dax (" + e.getMessage()
              + "); launch with --enable-native-access=io.pcache.media.dax (bin/pcache does)";
        } catch (RuntimeException | LinkageError e) {
          failure = "cannot call libc through the FFM linker (" + e + ")";
        }
      }
      STATX = statx;
      OPEN = open;
      CLOSE = close;
      FLOCK = flock;
      MMAP = mmap;
      MUNMAP = munmap;
      MPROTECT = mprotect;
      STRERROR = strerror;
      CAPTURE = capture;
      ERRNO = errno;
      FAILURE = failure;
    }
  }

  /** Whether libc could be linked. */
  static boolean available() {
    return Linked.FAILURE == null;
  }

  /** Why libc cannot be called, or {@code null} when it can. */
  static String unavailableReason() {
    return Linked.FAILURE;
  }

  /** Throws an {@link IOException} naming {@code media} and what is missing when libc cannot be called. */
  static void checkAvailable(String media, String forWhat) throws IOException {
    if (Linked.FAILURE != null) {
      throw new IOException("cannot open cache media " + media + ": " + forWhat + " needs native calls, but "
          + Linked.FAILURE);
    }
  }

  private static void checkLinked() {
    if (Linked.FAILURE != null) {
      throw new IllegalStateException(Linked.FAILURE);
    }
  }

  private static int errno(MemorySegment capture) {
    return (int) Linked.ERRNO.get(capture, 0L);
  }

  private static RuntimeException unexpected(Throwable t) {
    if (t instanceof RuntimeException r) {
      return r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new IllegalStateException(t);
  }

  /** {@code statx(2)} of {@code path} into {@code buf} ({@link FileStat#SIZE} bytes): 0 or {@code -errno}. */
  static int statx(String path, int flags, int mask, MemorySegment buf) {
    checkLinked();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(Linked.CAPTURE);
      int r = (int) Linked.STATX.invokeExact(capture, AT_FDCWD, arena.allocateFrom(path), flags, mask, buf);
      return r == -1 ? -errno(capture) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code open(2)}: a file descriptor, or {@code -errno}. */
  static int open(String path, int flags) {
    checkLinked();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(Linked.CAPTURE);
      int r = (int) Linked.OPEN.invokeExact(capture, arena.allocateFrom(path), flags, 0);
      return r == -1 ? -errno(capture) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code close(2)}: 0 or {@code -errno}. Never retried: on Linux the descriptor is gone either way. */
  static int close(int fd) {
    checkLinked();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(Linked.CAPTURE);
      int r = (int) Linked.CLOSE.invokeExact(capture, fd);
      return r == -1 ? -errno(capture) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code flock(2)}: 0 or {@code -errno}. */
  static int flock(int fd, int operation) {
    checkLinked();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(Linked.CAPTURE);
      int r = (int) Linked.FLOCK.invokeExact(capture, fd, operation);
      return r == -1 ? -errno(capture) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code mmap(2)}: the address, or {@code -errno} (addresses are never in [-4095, -1]). */
  static long mmap(long address, long length, int prot, int flags, int fd, long offset) {
    checkLinked();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(Linked.CAPTURE);
      long r = (long) Linked.MMAP.invokeExact(capture, address, length, prot, flags, fd, offset);
      return r == -1 ? -errno(capture) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code munmap(2)}: 0 or {@code -errno}. */
  static int munmap(long address, long length) {
    checkLinked();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(Linked.CAPTURE);
      int r = (int) Linked.MUNMAP.invokeExact(capture, address, length);
      return r == -1 ? -errno(capture) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code mprotect(2)}: 0 or {@code -errno}. */
  static int mprotect(long address, long length, int prot) {
    checkLinked();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment capture = arena.allocate(Linked.CAPTURE);
      int r = (int) Linked.MPROTECT.invokeExact(capture, address, length, prot);
      return r == -1 ? -errno(capture) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** The OS text for an errno with its number and name: {@code "Operation not supported (errno 95, EOPNOTSUPP)"}. */
  @SuppressWarnings("restricted")
  static String describe(int errno) {
    String text = null;
    if (available()) {
      try {
        MemorySegment s = (MemorySegment) Linked.STRERROR.invokeExact(errno);
        text = s.equals(MemorySegment.NULL) ? null : s.reinterpret(256).getString(0);
      } catch (Throwable t) {
        text = null;
      }
    }
    String name = name(errno);
    return (text == null ? "error" : text) + " (errno " + errno + (name == null ? "" : ", " + name) + ")";
  }

  private static String name(int errno) {
    return switch (errno) {
      case 1 -> "EPERM";
      case ENOENT -> "ENOENT";
      case 5 -> "EIO";
      case 6 -> "ENXIO";
      case 9 -> "EBADF";
      case EAGAIN -> "EAGAIN";
      case ENOMEM -> "ENOMEM";
      case EACCES -> "EACCES";
      case EBUSY -> "EBUSY";
      case ENODEV -> "ENODEV";
      case 20 -> "ENOTDIR";
      case 21 -> "EISDIR";
      case EINVAL -> "EINVAL";
      case 28 -> "ENOSPC";
      case 30 -> "EROFS";
      case 38 -> "ENOSYS";
      case 75 -> "EOVERFLOW";
      case EOPNOTSUPP -> "EOPNOTSUPP";
      default -> null;
    };
  }
}
