package io.pcache.frontend.ublk.uring;

import io.pcache.frontend.ublk.internal.LibC;
import java.lang.foreign.MemorySegment;
import java.util.Locale;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Platform;
import jnr.ffi.Runtime;

/**
 * The real kernel behind {@link UringSyscalls}, through libc bound by JNR-FFI. Linking happens on
 * first use; when it fails (not Linux, no native access) {@link #failure()} says what is missing
 * and every call returns {@code -ENOSYS}.
 */
public final class NativeUring implements UringSyscalls {

  /** The one instance. */
  public static final NativeUring INSTANCE = new NativeUring();

  private NativeUring() {}

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
        failure = "io_uring needs Linux (this is " + os + ")";
      } else {
        try {
          libc = LibraryLoader.create(LibC.class).load(Platform.getNativePlatform().getStandardCLibraryName());
          runtime = Runtime.getRuntime(libc);
        } catch (LinkageError | RuntimeException e) {
          failure = "cannot call libc through JNR-FFI (" + e + "); launch with --enable-native-access="
              + "org.jnrproject.jffi,io.pcache.frontend.ublk (ALL-UNNAMED on the class path); jnr-ffi needs"
              + " org.objectweb.asm on the module path";
        }
      }
      LIBC = libc;
      RUNTIME = runtime;
      FAILURE = failure;
    }
  }

  /** Why libc cannot be called, or null when it can. */
  public static String failure() {
    return Linked.FAILURE;
  }

  /** The bound libc; throws {@link IllegalStateException} with {@link #failure()} when unavailable. */
  public static LibC libc() {
    LibC libc = Linked.LIBC;
    if (libc == null) {
      throw new IllegalStateException(Linked.FAILURE);
    }
    return libc;
  }

  /** {@code r}, or {@code -errno} when {@code r} is -1 (read on the calling thread). */
  public static long result(long r) {
    return r == -1 ? -Linked.RUNTIME.getLastError() : r;
  }

  /** {@code strerror(errno)}, or null when libc is not linked. */
  static String strerror(int errno) {
    return Linked.LIBC == null ? null : Linked.LIBC.strerror(errno);
  }

  @Override
  public int setup(int entries, MemorySegment params) {
    if (Linked.LIBC == null) {
      return -Errnos.ENOSYS;
    }
    return (int) result(Linked.LIBC.syscall(UringLayout.SYS_IO_URING_SETUP, entries, params.address(), 0, 0, 0, 0));
  }

  @Override
  public int enter(int fd, int toSubmit, int minComplete, int flags, MemorySegment arg, long argSize) {
    return (int) result(Linked.LIBC.syscall(UringLayout.SYS_IO_URING_ENTER, fd, toSubmit, minComplete, flags,
        arg.address(), argSize));
  }

  @Override
  public long mmap(long length, int prot, int flags, int fd, long offset) {
    return result(libc().mmap(0, length, prot, flags, fd, offset, 0));
  }

  @Override
  public int munmap(long address, long length) {
    return (int) result(libc().munmap(address, length));
  }

  @Override
  public int close(int fd) {
    return (int) result(libc().close(fd));
  }
}
