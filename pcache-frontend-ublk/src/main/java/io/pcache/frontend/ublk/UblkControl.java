package io.pcache.frontend.ublk;

import io.pcache.frontend.ublk.Uapi.DevInfo;
import io.pcache.frontend.ublk.Uapi.Params;
import io.pcache.frontend.ublk.uring.Errnos;
import io.pcache.frontend.ublk.uring.IoUring;
import io.pcache.frontend.ublk.uring.Sqe;
import io.pcache.frontend.ublk.uring.UringLayout;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

/**
 * The ublk control device, {@code /dev/ublk-control}: device creation and removal through
 * {@code IORING_OP_URING_CMD} on a small ring of 128-byte SQEs (the 32-byte {@code
 * ublksrv_ctrl_cmd} does not fit in a 64-byte SQE's 16-byte command area).
 *
 * <p>Commands are issued one at a time (the methods are synchronized) and waited for: the kernel
 * runs them in an io_uring worker, and some block for long (START_DEV until every queue fetched,
 * STOP_DEV until requests in flight completed, DEL_DEV until nobody holds the device); a warning
 * is logged every {@link #WARN_NANOS} while one waits.
 *
 * <h2>Implementation notes: command encodings</h2>
 *
 * <p>The first command is sent ioctl-encoded; when the kernel answers with an error that means
 * "unknown command" (6.1 says ENODEV or EOPNOTSUPP, others EINVAL or ENOTTY) it is sent again
 * with the raw number. The first encoding that works is kept for the rest of the session. A
 * kernel that understood neither gets the first answer reported.
 */
final class UblkControl implements AutoCloseable {

  private static final System.Logger LOG = System.getLogger("io.pcache.frontend.ublk");

  static final String CONTROL_PATH = "/dev/ublk-control";
  /** How long a command may wait before a warning (then one every such period). */
  static final long WARN_NANOS = TimeUnit.SECONDS.toNanos(10);
  /** Marks ublksrv_ctrl_dev_info.ublksrv_flags as pcache's: "pcac" in the upper 32 bits, the owner's pid below. */
  static final long OWNER_MAGIC = 0x70636163L;

  private enum Encoding { UNKNOWN, IOCTL, LEGACY }

  private final UblkSys sys;
  private final int fd;
  private final IoUring ring;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment buffer = arena.allocate(256, 8);
  private Encoding encoding = Encoding.UNKNOWN;
  private long sequence;
  private int result;
  private boolean closed;

  private UblkControl(UblkSys sys, int fd, IoUring ring) {
    this.sys = sys;
    this.fd = fd;
    this.ring = ring;
  }

  /** Opens the control device, with a message saying what to do when it cannot. */
  static UblkControl open(UblkSys sys) throws IOException {
    int fd = sys.open(CONTROL_PATH);
    if (fd < 0) {
      throw new IOException(openFailure(sys, -fd));
    }
    try {
      IoUring ring = IoUring.create(sys, 4, UringLayout.IORING_SETUP_SQE128, 0);
      return new UblkControl(sys, fd, ring);
    } catch (IOException | RuntimeException e) {
      sys.close(fd);
      throw new IOException("cannot set up an io_uring for " + CONTROL_PATH + ": " + e.getMessage()
          + (e instanceof io.pcache.frontend.ublk.uring.UringException u && u.errno() == Errnos.EPERM
              ? " (io_uring may be disabled: sysctl kernel.io_uring_disabled)" : ""), e);
    }
  }

  static String openFailure(UblkSys sys, int errno) {
    return switch (errno) {
      case Errnos.ENOENT -> CONTROL_PATH + " does not exist: load the ublk driver with 'modprobe ublk_drv' (Linux 6.0"
          + " or newer built with CONFIG_BLK_DEV_UBLK)";
      case Errnos.EACCES, Errnos.EPERM -> "no permission to open " + CONTROL_PATH + ": run pcache as root (ublk needs"
          + " CAP_SYS_ADMIN)";
      default -> "cannot open " + CONTROL_PATH + ": " + sys.describe(errno);
    };
  }

  /** The value pcache stores in {@code ublksrv_flags} to mark a device as served by process {@code pid}. */
  static long ownerStamp(int pid) {
    return OWNER_MAGIC << 32 | (pid & 0xffffffffL);
  }

  /** The pcache process that created a device, or empty when the device is not pcache's. */
  static Optional<Integer> stampedOwner(DevInfo info) {
    return (info.ublksrvFlags() >>> 32) == OWNER_MAGIC ? Optional.of((int) info.ublksrvFlags()) : Optional.empty();
  }

  /**
   * GET_FEATURES (Linux 6.5+): the {@code UBLK_F_*} bits the driver supports, or empty on older
   * kernels. Sent ioctl-encoded only (there is no raw number for it).
   */
  synchronized OptionalLong features() throws IOException {
    buffer.set(ValueLayout.JAVA_LONG, 0, 0L);
    int r = issue(Uapi.encodedControl(Uapi.CMD_GET_FEATURES), Uapi.CMD_GET_FEATURES, -1, buffer.address(), 8, 0);
    if (r < 0) {
      return OptionalLong.empty();
    }
    encoding = Encoding.IOCTL;
    return OptionalLong.of(buffer.get(ValueLayout.JAVA_LONG, 0));
  }

  /** ADD_DEV: creates {@code /dev/ublkcN}; returns the device as the kernel set it up (id, queues, flags). */
  synchronized DevInfo addDev(DevInfo want) throws IOException {
    want.encode(buffer);
    int r = command(Uapi.CMD_ADD_DEV, want.devId(), buffer.address(), Uapi.DEV_INFO_SIZE, 0);
    if (r < 0) {
      throw failure("ADD_DEV", want.devId(), -r, switch (-r) {
        case Errnos.EEXIST -> "the device id is taken: set ublk.dev-id to another id, or -1 to let the kernel choose";
        case Errnos.EPERM -> "run pcache as root (ublk needs CAP_SYS_ADMIN)";
        default -> null;
      });
    }
    return DevInfo.decode(buffer);
  }

  /** SET_PARAMS. */
  synchronized void setParams(int devId, Params params) throws IOException {
    params.encode(buffer);
    int r = command(Uapi.CMD_SET_PARAMS, devId, buffer.address(), Uapi.PARAMS_SIZE, 0);
    if (r < 0) {
      throw failure("SET_PARAMS", devId, -r, null);
    }
  }

  /** START_DEV: returns once {@code /dev/ublkbN} was added (every queue must have fetched first). */
  synchronized void startDev(int devId, int pid) throws IOException {
    int r = command(Uapi.CMD_START_DEV, devId, 0, 0, pid);
    if (r < 0) {
      throw failure("START_DEV", devId, -r, null);
    }
  }

  /** STOP_DEV: removes {@code /dev/ublkbN} once requests in flight completed; aborts the queues' fetches. */
  synchronized void stopDev(int devId) throws IOException {
    int r = command(Uapi.CMD_STOP_DEV, devId, 0, 0, 0);
    if (r < 0) {
      throw failure("STOP_DEV", devId, -r, null);
    }
  }

  /**
   * DEL_DEV: removes {@code /dev/ublkcN}. The kernel waits until nobody holds the device (the
   * server's descriptor mapping, an open or mounted {@code /dev/ublkbN}); ENODEV counts as done.
   */
  synchronized void delDev(int devId) throws IOException {
    int r = command(Uapi.CMD_DEL_DEV, devId, 0, 0, 0);
    if (r < 0 && r != -Errnos.ENODEV) {
      throw failure("DEL_DEV", devId, -r, null);
    }
  }

  /** GET_DEV_INFO, or empty when there is no such device. */
  synchronized Optional<DevInfo> devInfo(int devId) throws IOException {
    buffer.asSlice(0, Uapi.DEV_INFO_SIZE).fill((byte) 0);
    int r = command(Uapi.CMD_GET_DEV_INFO, devId, buffer.address(), Uapi.DEV_INFO_SIZE, 0);
    if (r == -Errnos.ENODEV) {
      return Optional.empty();
    }
    if (r < 0) {
      throw failure("GET_DEV_INFO", devId, -r, null);
    }
    return Optional.of(DevInfo.decode(buffer));
  }

  /** Whether commands go ioctl-encoded ("ioctl"), raw ("legacy") or that is not known yet. */
  synchronized String encoding() {
    return encoding.name().toLowerCase(java.util.Locale.ROOT);
  }

  private IOException failure(String command, int devId, int errno, String advice) {
    return new IOException("ublk " + command + " of device " + (devId < 0 ? "(any id)" : devId) + " failed: "
        + sys.describe(errno) + (advice == null ? "" : ": " + advice));
  }

  private static boolean unknownCommand(int r) {
    return r == -Errnos.EINVAL || r == -Errnos.ENOTTY || r == -Errnos.EOPNOTSUPP || r == -Errnos.ENODEV;
  }

  /** Sends raw command {@code nr}, in the encoding this kernel understands; returns the result or -errno. */
  private int command(int nr, int devId, long addr, int len, long data0) throws IOException {
    if (encoding == Encoding.LEGACY) {
      return issue(nr, nr, devId, addr, len, data0);
    }
    int r = issue(Uapi.encodedControl(nr), nr, devId, addr, len, data0);
    if (encoding == Encoding.IOCTL) {
      return r;
    }
    if (r >= 0) {
      encoding = Encoding.IOCTL;
      return r;
    }
    if (!unknownCommand(r)) {
      return r;
    }
    int legacy = issue(nr, nr, devId, addr, len, data0);
    if (legacy >= 0) {
      encoding = Encoding.LEGACY;
      LOG.log(System.Logger.Level.DEBUG, "ublk: the kernel takes raw control command numbers (Linux before 6.4)");
      return legacy;
    }
    return unknownCommand(legacy) ? r : legacy;
  }

  private int issue(int op, int nr, int devId, long addr, int len, long data0) throws IOException {
    if (closed) {
      throw new IOException("the ublk control device is closed");
    }
    long id = ++sequence;
    MemorySegment sqe = ring.nextSqe();
    MemorySegment cmd = Sqe.uringCmd(sqe, fd, op, id);
    Uapi.ctrlCmd(cmd, devId, -1, addr, len, data0);
    ring.submit();
    long waited = 0;
    while (!ring.submitAndWait(1, WARN_NANOS)) {
      waited += WARN_NANOS;
      LOG.log(System.Logger.Level.WARNING, "ublk " + Uapi.commandName(nr) + " of device " + devId + " has been waiting"
          + " for " + TimeUnit.NANOSECONDS.toSeconds(waited) + " s" + waitHint(nr, devId));
    }
    result = Integer.MIN_VALUE;
    ring.drainCompletions((userData, res, flags) -> {
      if (userData == id) {
        result = res;
      }
    });
    if (result == Integer.MIN_VALUE) {
      throw new IOException("ublk " + Uapi.commandName(nr) + ": no completion for the command");
    }
    return result;
  }

  private static String waitHint(int nr, int devId) {
    return switch (nr) {
      case Uapi.CMD_DEL_DEV -> ": the kernel deletes the device once nobody holds it; is /dev/ublkb" + devId
          + " still mounted or open? (umount it)";
      case Uapi.CMD_STOP_DEV -> ": requests in flight must complete first";
      case Uapi.CMD_START_DEV -> ": every queue must fetch first, and the kernel reads the partition table";
      default -> "";
    };
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    ring.close();
    sys.close(fd);
    arena.close();
  }
}
