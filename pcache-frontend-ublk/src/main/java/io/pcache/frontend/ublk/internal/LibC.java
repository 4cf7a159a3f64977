package io.pcache.frontend.ublk.internal;

import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.types.intptr_t;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * The libc functions the ublk front-end calls, bound by JNR-FFI. Not an API: the package is
 * exported only because jnr-ffi generates the implementation in an unnamed module. Use it through
 * {@code io.pcache.frontend.ublk.uring.NativeUring} and {@code io.pcache.frontend.ublk.NativeUblkSys},
 * which add errno handling.
 *
 * <p>Memory is passed as raw native addresses in an {@code intptr_t}. Every function that can fail
 * saves {@code errno} (JNR's default), read back with {@code Runtime.getLastError()} on the same
 * thread.
 */
public interface LibC {

  /**
   * {@code syscall(2)} with six arguments (unused ones are 0): {@code io_uring_setup} (425) and
   * {@code io_uring_enter} (426) have no libc wrapper. glibc's {@code syscall} is written in
   * assembly and reads no {@code va_list}, so binding it with fixed arguments is safe.
   */
  long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

  /** {@code open(2)}. */
  int open(String path, int flags, int mode);

  /** {@code close(2)}. */
  int close(int fd);

  /**
   * {@code mmap(2)}: the address, or {@code MAP_FAILED} (-1). Pass 0 as {@code unused}: jnr-ffi
   * 2.3.4 with jffi 1.4.3 on x86_64 loses the sixth argument of a six-argument function (measured:
   * {@code mmap} failed with EINVAL, a garbage offset, while the same call through the
   * seven-argument {@code syscall} worked). A seventh argument goes on the stack and makes the
   * call take the path that works; the C function ignores it (extra arguments are harmless in the
   * x86_64 and aarch64 calling conventions).
   */
  @intptr_t
  long mmap(@intptr_t long addr, @size_t long length, int prot, int flags, int fd, @off_t long offset, long unused);

  /** {@code munmap(2)}. */
  int munmap(@intptr_t long addr, @size_t long length);

  /** {@code eventfd(2)}. */
  int eventfd(int initval, int flags);

  /** {@code write(2)} from the native memory at {@code buf}. */
  @ssize_t
  long write(int fd, @intptr_t long buf, @size_t long count);

  /** {@code prctl(2)}. */
  int prctl(int option, long arg2, long arg3, long arg4, long arg5);

  /** {@code getpagesize(2)}. */
  @IgnoreError
  int getpagesize();

  /** {@code getpid(2)}. */
  @IgnoreError
  int getpid();

  /** {@code strerror(3)}. */
  @IgnoreError
  String strerror(int errnum);
}
