package io.pcache.backing.block;

/**
 * A failed system call on a cold path (opening, sizing), before there is a device name and request
 * to put in a {@link io.pcache.api.BlockIOException}. The caller turns it into an {@link
 * java.io.IOException} that names the device.
 */
final class ErrnoException extends Exception {

  private final int errno;

  ErrnoException(String call, int errno) {
    super(call + ": " + Posix.describe(errno), null, false, false);
    this.errno = errno;
  }

  /** The Linux errno. */
  int errno() {
    return errno;
  }
}
