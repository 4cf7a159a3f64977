package io.pcache.frontend.ublk.uring;

import java.lang.foreign.MemorySegment;

/**
 * The system calls behind an {@link IoUring}: the seam between the ring logic and the kernel, so
 * that tests can put a fake kernel behind the same code. Every method returns what the kernel
 * returns, or {@code -errno} on failure (the kernel's own convention), and throws nothing.
 */
public interface UringSyscalls {

  /** {@code io_uring_setup(entries, params)}: a ring file descriptor, or {@code -errno}. */
  int setup(int entries, MemorySegment params);

  /**
   * {@code io_uring_enter(fd, toSubmit, minComplete, flags, arg, argSize)}: the number of SQEs
   * consumed, or {@code -errno}. {@code arg} is {@link MemorySegment#NULL} unless {@code flags}
   * holds {@link UringLayout#IORING_ENTER_EXT_ARG}.
   */
  int enter(int fd, int toSubmit, int minComplete, int flags, MemorySegment arg, long argSize);

  /** {@code mmap(NULL, length, prot, flags, fd, offset)}: the address, or {@code -errno}. */
  long mmap(long length, int prot, int flags, int fd, long offset);

  /** {@code munmap(address, length)}: 0 or {@code -errno}. */
  int munmap(long address, long length);

  /** {@code close(fd)}: 0 or {@code -errno}. */
  int close(int fd);

  /** The OS text for an errno with its number and name, for messages. */
  default String describe(int errno) {
    return Errnos.describe(errno);
  }
}
