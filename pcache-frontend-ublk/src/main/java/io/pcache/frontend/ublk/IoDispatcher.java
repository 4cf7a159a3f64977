package io.pcache.frontend.ublk;

import io.pcache.api.BlockDevice;
import io.pcache.api.BlockIOException;
import io.pcache.frontend.ublk.uring.Errnos;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs one ublk request against the {@link BlockDevice}: the mapping from a {@code
 * ublksrv_io_desc} to a read, write, flush, discard or write-zeroes call, and from the outcome to
 * the result committed to the kernel.
 *
 * <table>
 *   <caption>Mapping</caption>
 *   <tr><th>ublk op</th><th>call</th><th>result</th></tr>
 *   <tr><td>READ</td><td>{@code read(sector * 512, buffer[0, n * 512))}</td><td>bytes</td></tr>
 *   <tr><td>WRITE (FUA flag)</td><td>{@code write(sector * 512, buffer[0, n * 512), fua)}</td><td>bytes</td></tr>
 *   <tr><td>FLUSH</td><td>{@code flush()}</td><td>0</td></tr>
 *   <tr><td>DISCARD</td><td>{@code discard(sector * 512, n * 512)}</td><td>0</td></tr>
 *   <tr><td>WRITE_ZEROES (FUA flag)</td><td>{@code writeZeroes(sector * 512, n * 512, fua)}</td><td>0</td></tr>
 *   <tr><td>anything else</td><td>none</td><td>-EOPNOTSUPP</td></tr>
 * </table>
 *
 * <p>A {@link BlockIOException} becomes {@code -errno} of its {@link BlockIOException#errno()};
 * any other exception becomes -EIO and is logged. The byte count matters: the 6.1 driver requeues
 * a write completed with 0 bytes, and fails a read completed with 0 bytes.
 */
final class IoDispatcher {

  private static final System.Logger LOG = System.getLogger("io.pcache.frontend.ublk");
  static final int SECTOR_SHIFT = 9;

  private final BlockDevice device;
  private final AtomicLong errors = new AtomicLong();

  IoDispatcher(BlockDevice device) {
    this.device = device;
  }

  /** Errors returned so far. */
  long errors() {
    return errors.get();
  }

  /**
   * Executes one request.
   *
   * @param opFlags {@code ublksrv_io_desc.op_flags}: the op in bits 0-7, {@code UBLK_IO_F_*} above
   * @param buffer the tag's I/O buffer: holds the data of a write, receives the data of a read
   * @return the result to commit: bytes transferred, 0, or {@code -errno}
   */
  int execute(int opFlags, long startSector, int nrSectors, MemorySegment buffer) {
    int op = opFlags & 0xff;
    boolean fua = (opFlags & Uapi.IO_F_FUA) != 0;
    long offset = startSector << SECTOR_SHIFT;
    long length = Integer.toUnsignedLong(nrSectors) << SECTOR_SHIFT;
    try {
      switch (op) {
        case Uapi.OP_READ -> {
          if (length > buffer.byteSize()) {
            return tooLarge(op, offset, length, buffer);
          }
          device.read(offset, buffer.asSlice(0, length));
          return (int) length;
        }
        case Uapi.OP_WRITE -> {
          if (length > buffer.byteSize()) {
            return tooLarge(op, offset, length, buffer);
          }
          device.write(offset, buffer.asSlice(0, length), fua);
          return (int) length;
        }
        case Uapi.OP_FLUSH -> {
          device.flush();
          return 0;
        }
        case Uapi.OP_DISCARD -> {
          device.discard(offset, length);
          return 0;
        }
        case Uapi.OP_WRITE_ZEROES -> {
          device.writeZeroes(offset, length, fua);
          return 0;
        }
        default -> {
          report(null, "ublk " + Uapi.opName(op) + " at offset " + offset + " length " + length
              + " is not supported: returning EOPNOTSUPP");
          return -Errnos.EOPNOTSUPP;
        }
      }
    } catch (BlockIOException e) {
      report(null, "ublk " + Uapi.opName(op) + ": " + e.getMessage());
      return -e.errno().code();
    } catch (RuntimeException | Error e) {
      report(e, "ublk " + Uapi.opName(op) + " at offset " + offset + " length " + length + " on " + device.name()
          + " failed unexpectedly: " + e + "; returning EIO");
      return -Errnos.EIO;
    }
  }

  private int tooLarge(int op, long offset, long length, MemorySegment buffer) {
    report(null, "ublk " + Uapi.opName(op) + " at offset " + offset + " length " + length + " exceeds the "
        + buffer.byteSize() + "-byte buffer: returning EINVAL");
    return -Errnos.EINVAL;
  }

  /** Logs the first 20 errors, then every 1000th, so a failing disk does not flood the log. */
  private void report(Throwable t, String message) {
    long n = errors.incrementAndGet();
    if (n <= 20 || n % 1000 == 0) {
      String text = message + (n > 20 ? " (" + n + " errors so far)" : "");
      if (t == null) {
        LOG.log(System.Logger.Level.WARNING, text);
      } else {
        LOG.log(System.Logger.Level.ERROR, text, t);
      }
    }
  }
}
