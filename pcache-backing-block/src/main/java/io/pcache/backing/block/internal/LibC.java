package io.pcache.backing.block.internal;

import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.annotations.In;
import jnr.ffi.types.intptr_t;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;
import jnr.ffi.types.u_int64_t;

/**
 * The libc functions the block backing driver calls, bound by JNR-FFI. Not an API: the package is
 * exported only because jnr-ffi generates the implementation in an unnamed module. Use it through
 * {@code io.pcache.backing.block.Posix}, which adds errno handling and the constants.
 *
 * <p>Buffers are passed as raw native addresses ({@code MemorySegment.address()}) in an {@code
 * intptr_t}, which saves the {@code jnr.ffi.Pointer} a call would otherwise allocate. Every
 * function that can fail saves {@code errno} (JNR's default), read back with {@code
 * Runtime.getLastError()} on the same thread.
 */
public interface LibC {

  /** {@code open(2)}; {@code mode} is used only with {@code O_CREAT}. */
  int open(String path, int flags, int mode);

  /** {@code close(2)}. */
  int close(int fd);

  /** {@code pread(2)} into the native memory at {@code buf}. */
  @ssize_t
  long pread(int fd, @intptr_t long buf, @size_t long count, @off_t long offset);

  /** {@code pwrite(2)} from the native memory at {@code buf}. */
  @ssize_t
  long pwrite(int fd, @intptr_t long buf, @size_t long count, @off_t long offset);

  /**
   * {@code preadv2(2)} with {@code iovcnt} iovecs given as {@code {base, length}} pairs (jnr copies
   * the array to native memory for the call); used with {@code RWF_NOWAIT}.
   */
  @ssize_t
  long preadv2(int fd, @In long[] iov, int iovcnt, @off_t long offset, int flags);

  /** {@code fdatasync(2)}. */
  int fdatasync(int fd);

  /** {@code ftruncate(2)}. */
  int ftruncate(int fd, @off_t long length);

  /** {@code flock(2)}. */
  int flock(int fd, int operation);

  /** {@code ioctl(2)} with a pointer argument (the native memory at {@code arg}). */
  int ioctl(int fd, @u_int64_t long request, @intptr_t long arg);

  /** {@code fallocate(2)}. */
  int fallocate(int fd, int mode, @off_t long offset, @off_t long length);

  /** {@code statx(2)} into the 256-byte {@code struct statx} at {@code buf}. */
  int statx(int dirfd, String path, int flags, int mask, @intptr_t long buf);

  /** {@code strerror(3)}. */
  @IgnoreError
  String strerror(int errnum);

  /** {@code getpid(2)}: the cheapest call, for measuring the cost of a call itself. */
  @IgnoreError
  int getpid();
}
