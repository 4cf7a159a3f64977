package io.pcache.api;

import java.io.IOException;
import java.util.Objects;

/**
 * An I/O error on a block device, with the POSIX error a front-end reports to its client and the
 * device, offset and length it concerns.
 *
 * <p>The message always names the device, the byte offset and the length, so that a log line alone
 * tells an operator where the error happened.
 */
public class BlockIOException extends IOException {

  /** The error as a front-end reports it (NBD and ublk both speak POSIX errno). */
  public enum Errno {
    /** An I/O error: the data could not be read or written (errno 5). */
    EIO(5),
    /** A request out of range or misaligned (errno 22). */
    EINVAL(22),
    /** No space: a write beyond the end of the device (errno 28). */
    ENOSPC(28),
    /** The request is larger than allowed (errno 75). */
    EOVERFLOW(75),
    /** The operation is not supported by this device (errno 95). */
    ENOTSUP(95),
    /** The device is shutting down or closed (errno 108). */
    ESHUTDOWN(108);

    private final int code;

    Errno(int code) {
      this.code = code;
    }

    /** The Linux errno number. */
    public int code() {
      return code;
    }
  }

  private final Errno errno;
  private final String device;
  private final long offset;
  private final long length;

  public BlockIOException(Errno errno, String device, long offset, long length, String what, Throwable cause) {
    super(what + " (" + errno + ") on " + device + " at offset " + offset + " length " + length, cause);
    this.errno = Objects.requireNonNull(errno, "errno");
    this.device = device;
    this.offset = offset;
    this.length = length;
  }

  public BlockIOException(Errno errno, String device, long offset, long length, String what) {
    this(errno, device, offset, length, what, null);
  }

  public Errno errno() {
    return errno;
  }

  public String device() {
    return device;
  }

  public long offset() {
    return offset;
  }

  public long length() {
    return length;
  }

  /**
   * Checks that {@code [offset, offset + length)} lies within {@code size} bytes.
   *
   * @throws BlockIOException with {@link Errno#EINVAL} for a negative offset or length, or a range
   *     that ends beyond {@code size}
   */
  public static void checkRange(String device, long size, long offset, long length) throws BlockIOException {
    if (offset < 0 || length < 0 || offset > size || length > size - offset) {
      throw new BlockIOException(Errno.EINVAL, device, offset, length, "request outside the device's " + size + " bytes");
    }
  }
}
