package io.pcache.frontend.ublk.uring;

import java.io.IOException;

/** A failed io_uring system call or operation, with the errno the kernel returned. */
public final class UringException extends IOException {

  private final int errno;

  /** {@code what} names the call and its arguments; the errno's text is appended. */
  public UringException(String what, int errno, UringSyscalls sys) {
    super(what + ": " + sys.describe(errno));
    this.errno = errno;
  }

  /** The Linux errno (positive). */
  public int errno() {
    return errno;
  }
}
