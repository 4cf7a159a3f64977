package io.pcache.frontend.ublk;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The ublk user-space ABI ({@code include/uapi/linux/ublk_cmd.h}): command numbers and their ioctl
 * encodings, feature and attribute bits, and the layouts of the structures exchanged with the
 * driver. {@code UapiTest} pins every value against the header.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>Linux 6.0 and 6.1 know only the raw command numbers ({@code UBLK_CMD_ADD_DEV = 0x04}); about
 * 6.4 added the ioctl-style encodings ({@code UBLK_U_CMD_ADD_DEV = _IOWR('u', 0x04, struct
 * ublksrv_ctrl_cmd)}) and deprecated the raw ones, which newer kernels may be built without. A 6.1
 * kernel answers an encoded number with ENODEV (the device lookup comes first) or EOPNOTSUPP, so
 * {@link UblkControl} tries the encoding and falls back. I/O commands use the encoding only when
 * ADD_DEV reports {@link #F_CMD_IOCTL_ENCODE}.
 */
final class Uapi {

  private Uapi() {}

  // ---- control commands: raw numbers (the "nr" of the encodings) ----

  static final int CMD_GET_QUEUE_AFFINITY = 0x01;
  static final int CMD_GET_DEV_INFO = 0x02;
  static final int CMD_ADD_DEV = 0x04;
  static final int CMD_DEL_DEV = 0x05;
  static final int CMD_START_DEV = 0x06;
  static final int CMD_STOP_DEV = 0x07;
  static final int CMD_SET_PARAMS = 0x08;
  static final int CMD_GET_PARAMS = 0x09;
  static final int CMD_START_USER_RECOVERY = 0x10;
  static final int CMD_END_USER_RECOVERY = 0x11;
  static final int CMD_GET_DEV_INFO2 = 0x12;
  static final int CMD_GET_FEATURES = 0x13;
  static final int CMD_DEL_DEV_ASYNC = 0x14;

  // ---- I/O commands ----

  static final int IO_FETCH_REQ = 0x20;
  static final int IO_COMMIT_AND_FETCH_REQ = 0x21;
  static final int IO_NEED_GET_DATA = 0x22;

  /** CQE result of an I/O command: a request is ready in the descriptor. */
  static final int IO_RES_OK = 0;
  static final int IO_RES_NEED_GET_DATA = 1;
  /** CQE result of an I/O command when the device is going away: do not fetch again (-ENODEV). */
  static final int IO_RES_ABORT = -19;

  // ---- ioctl encoding: dir << 30 | size << 16 | type << 8 | nr ----

  static final int IOC_WRITE = 1;
  static final int IOC_READ = 2;
  static final int IOC_TYPE = 'u';

  static int ioc(int dir, int type, int nr, int size) {
    return dir << 30 | size << 16 | type << 8 | nr;
  }

  /**
   * The ioctl-encoded control command for raw number {@code nr}: {@code _IOR} for the getters,
   * {@code _IOWR} for the rest.
   */
  static int encodedControl(int nr) {
    boolean readOnly = switch (nr) {
      case CMD_GET_QUEUE_AFFINITY, CMD_GET_DEV_INFO, CMD_GET_PARAMS, CMD_GET_DEV_INFO2, CMD_GET_FEATURES,
          CMD_DEL_DEV_ASYNC -> true;
      default -> false;
    };
    return ioc(readOnly ? IOC_READ : IOC_READ | IOC_WRITE, IOC_TYPE, nr, CTRL_CMD_SIZE);
  }

  /** The ioctl-encoded I/O command for raw number {@code nr}: {@code _IOWR('u', nr, struct ublksrv_io_cmd)}. */
  static int encodedIo(int nr) {
    return ioc(IOC_READ | IOC_WRITE, IOC_TYPE, nr, IO_CMD_SIZE);
  }

  /** A name for messages: {@code ADD_DEV}. */
  static String commandName(int nr) {
    return switch (nr) {
      case CMD_GET_QUEUE_AFFINITY -> "GET_QUEUE_AFFINITY";
      case CMD_GET_DEV_INFO -> "GET_DEV_INFO";
      case CMD_ADD_DEV -> "ADD_DEV";
      case CMD_DEL_DEV -> "DEL_DEV";
      case CMD_START_DEV -> "START_DEV";
      case CMD_STOP_DEV -> "STOP_DEV";
      case CMD_SET_PARAMS -> "SET_PARAMS";
      case CMD_GET_PARAMS -> "GET_PARAMS";
      case CMD_START_USER_RECOVERY -> "START_USER_RECOVERY";
      case CMD_END_USER_RECOVERY -> "END_USER_RECOVERY";
      case CMD_GET_DEV_INFO2 -> "GET_DEV_INFO2";
      case CMD_GET_FEATURES -> "GET_FEATURES";
      case CMD_DEL_DEV_ASYNC -> "DEL_DEV_ASYNC";
      default -> "0x" + Integer.toHexString(nr);
    };
  }

  // ---- feature flags (ublksrv_ctrl_dev_info.flags, GET_FEATURES) ----

  static final long F_SUPPORT_ZERO_COPY = 1L;
  static final long F_URING_CMD_COMP_IN_TASK = 1L << 1;
  static final long F_NEED_GET_DATA = 1L << 2;
  static final long F_USER_RECOVERY = 1L << 3;
  static final long F_USER_RECOVERY_REISSUE = 1L << 4;
  static final long F_UNPRIVILEGED_DEV = 1L << 5;
  static final long F_CMD_IOCTL_ENCODE = 1L << 6;
  static final long F_USER_COPY = 1L << 7;

  // ---- device states ----

  static final int S_DEV_DEAD = 0;
  static final int S_DEV_LIVE = 1;
  static final int S_DEV_QUIESCED = 2;
  static final int S_DEV_FAIL_IO = 3;

  static String stateName(int state) {
    return switch (state) {
      case S_DEV_DEAD -> "DEAD";
      case S_DEV_LIVE -> "LIVE";
      case S_DEV_QUIESCED -> "QUIESCED";
      case S_DEV_FAIL_IO -> "FAIL_IO";
      default -> "state " + state;
    };
  }

  static final int MAX_QUEUE_DEPTH = 4096;
  /** 32 MiB: the largest per-request buffer (UBLK_IO_BUF_BITS 25). */
  static final int MAX_IO_BUF_BYTES = 1 << 25;

  // ---- struct ublksrv_ctrl_cmd (32 bytes, in the SQE128 command area) ----

  static final int CTRL_CMD_SIZE = 32;
  static final int CTRL_DEV_ID = 0;
  static final int CTRL_QUEUE_ID = 4;
  static final int CTRL_LEN = 6;
  static final int CTRL_ADDR = 8;
  static final int CTRL_DATA = 16;
  static final int CTRL_DEV_PATH_LEN = 24;

  /** Fills a ublksrv_ctrl_cmd; {@code queueId} -1 for commands that are not per queue. */
  static void ctrlCmd(MemorySegment area, int devId, int queueId, long addr, int len, long data0) {
    area.asSlice(0, CTRL_CMD_SIZE).fill((byte) 0);
    area.set(ValueLayout.JAVA_INT_UNALIGNED, CTRL_DEV_ID, devId);
    area.set(ValueLayout.JAVA_SHORT_UNALIGNED, CTRL_QUEUE_ID, (short) queueId);
    area.set(ValueLayout.JAVA_SHORT_UNALIGNED, CTRL_LEN, (short) len);
    area.set(ValueLayout.JAVA_LONG_UNALIGNED, CTRL_ADDR, addr);
    area.set(ValueLayout.JAVA_LONG_UNALIGNED, CTRL_DATA, data0);
  }

  // ---- struct ublksrv_ctrl_dev_info (64 bytes) ----

  static final int DEV_INFO_SIZE = 64;

  /**
   * struct ublksrv_ctrl_dev_info.
   *
   * @param ublksrvFlags opaque to the kernel, kept and returned by GET_DEV_INFO: pcache stamps its
   *     owner there (see {@link UblkControl#ownerStamp})
   */
  record DevInfo(int nrHwQueues, int queueDepth, int state, int maxIoBufBytes, int devId, int ublksrvPid,
      long flags, long ublksrvFlags, int ownerUid, int ownerGid) {

    void encode(MemorySegment s) {
      s.asSlice(0, DEV_INFO_SIZE).fill((byte) 0);
      s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) nrHwQueues);
      s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2, (short) queueDepth);
      s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 4, (short) state);
      s.set(ValueLayout.JAVA_INT_UNALIGNED, 8, maxIoBufBytes);
      s.set(ValueLayout.JAVA_INT_UNALIGNED, 12, devId);
      s.set(ValueLayout.JAVA_INT_UNALIGNED, 16, ublksrvPid);
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, 24, flags);
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, 32, ublksrvFlags);
      s.set(ValueLayout.JAVA_INT_UNALIGNED, 40, ownerUid);
      s.set(ValueLayout.JAVA_INT_UNALIGNED, 44, ownerGid);
    }

    static DevInfo decode(MemorySegment s) {
      return new DevInfo(
          Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0)),
          Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2)),
          Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT_UNALIGNED, 4)),
          s.get(ValueLayout.JAVA_INT_UNALIGNED, 8),
          s.get(ValueLayout.JAVA_INT_UNALIGNED, 12),
          s.get(ValueLayout.JAVA_INT_UNALIGNED, 16),
          s.get(ValueLayout.JAVA_LONG_UNALIGNED, 24),
          s.get(ValueLayout.JAVA_LONG_UNALIGNED, 32),
          s.get(ValueLayout.JAVA_INT_UNALIGNED, 40),
          s.get(ValueLayout.JAVA_INT_UNALIGNED, 44));
    }
  }

  // ---- struct ublk_params: len, types, basic (32 bytes at 8), discard (20 bytes at 40); 64 bytes in 6.1 ----

  static final int PARAMS_SIZE = 64;
  static final int PARAM_TYPE_BASIC = 1;
  static final int PARAM_TYPE_DISCARD = 1 << 1;
  static final int ATTR_READ_ONLY = 1;
  static final int ATTR_ROTATIONAL = 1 << 1;
  static final int ATTR_VOLATILE_CACHE = 1 << 2;
  static final int ATTR_FUA = 1 << 3;

  /**
   * struct ublk_params with the BASIC and (optionally) DISCARD parts, the ones Linux 6.1 knows.
   * Shifts are log2 of bytes; sector counts are in 512-byte units.
   */
  record Params(int attrs, int logicalBsShift, int physicalBsShift, int ioOptShift, int ioMinShift, int maxSectors,
      int chunkSectors, long devSectors, long virtBoundaryMask, boolean discard, int discardAlignment,
      int discardGranularity, int maxDiscardSectors, int maxWriteZeroesSectors, int maxDiscardSegments) {

    int types() {
      return PARAM_TYPE_BASIC | (discard ? PARAM_TYPE_DISCARD : 0);
    }

    void encode(MemorySegment s) {
      s.asSlice(0, PARAMS_SIZE).fill((byte) 0);
      s.set(ValueLayout.JAVA_INT_UNALIGNED, 0, PARAMS_SIZE);
      s.set(ValueLayout.JAVA_INT_UNALIGNED, 4, types());
      s.set(ValueLayout.JAVA_INT_UNALIGNED, 8, attrs);
      s.set(ValueLayout.JAVA_BYTE, 12, (byte) logicalBsShift);
      s.set(ValueLayout.JAVA_BYTE, 13, (byte) physicalBsShift);
      s.set(ValueLayout.JAVA_BYTE, 14, (byte) ioOptShift);
      s.set(ValueLayout.JAVA_BYTE, 15, (byte) ioMinShift);
      s.set(ValueLayout.JAVA_INT_UNALIGNED, 16, maxSectors);
      s.set(ValueLayout.JAVA_INT_UNALIGNED, 20, chunkSectors);
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, 24, devSectors);
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, 32, virtBoundaryMask);
      if (discard) {
        s.set(ValueLayout.JAVA_INT_UNALIGNED, 40, discardAlignment);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, 44, discardGranularity);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, 48, maxDiscardSectors);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, 52, maxWriteZeroesSectors);
        s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 56, (short) maxDiscardSegments);
      }
    }

    static Params decode(MemorySegment s) {
      int types = s.get(ValueLayout.JAVA_INT_UNALIGNED, 4);
      boolean discard = (types & PARAM_TYPE_DISCARD) != 0;
      return new Params(s.get(ValueLayout.JAVA_INT_UNALIGNED, 8),
          Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, 12)), Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, 13)),
          Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, 14)), Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, 15)),
          s.get(ValueLayout.JAVA_INT_UNALIGNED, 16), s.get(ValueLayout.JAVA_INT_UNALIGNED, 20),
          s.get(ValueLayout.JAVA_LONG_UNALIGNED, 24), s.get(ValueLayout.JAVA_LONG_UNALIGNED, 32), discard,
          discard ? s.get(ValueLayout.JAVA_INT_UNALIGNED, 40) : 0, discard ? s.get(ValueLayout.JAVA_INT_UNALIGNED, 44) : 0,
          discard ? s.get(ValueLayout.JAVA_INT_UNALIGNED, 48) : 0, discard ? s.get(ValueLayout.JAVA_INT_UNALIGNED, 52) : 0,
          discard ? Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT_UNALIGNED, 56)) : 0);
    }
  }

  // ---- struct ublksrv_io_desc (24 bytes), an array per queue mapped read-only from /dev/ublkcN ----

  static final int IO_DESC_SIZE = 24;
  static final int IOD_OP_FLAGS = 0;
  static final int IOD_NR_SECTORS = 4;
  static final int IOD_START_SECTOR = 8;
  static final int IOD_ADDR = 16;

  static final int OP_READ = 0;
  static final int OP_WRITE = 1;
  static final int OP_FLUSH = 2;
  static final int OP_DISCARD = 3;
  static final int OP_WRITE_SAME = 4;
  static final int OP_WRITE_ZEROES = 5;

  static final int IO_F_FAILFAST_DEV = 1 << 8;
  static final int IO_F_FAILFAST_TRANSPORT = 1 << 9;
  static final int IO_F_FAILFAST_DRIVER = 1 << 10;
  static final int IO_F_META = 1 << 11;
  static final int IO_F_FUA = 1 << 13;
  static final int IO_F_NOUNMAP = 1 << 15;
  static final int IO_F_SWAP = 1 << 16;

  /** Where queue {@code q}'s descriptor array is mapped from: {@code q * round_up(4096 * 24, page)}. */
  static long descriptorOffset(int queue, int pageSize) {
    return (long) queue * roundUp((long) MAX_QUEUE_DEPTH * IO_DESC_SIZE, pageSize);
  }

  /** The length of queue's descriptor mapping: {@code round_up(depth * 24, page)} (the driver insists on it exactly). */
  static long descriptorLength(int depth, int pageSize) {
    return roundUp((long) depth * IO_DESC_SIZE, pageSize);
  }

  static long roundUp(long value, long unit) {
    return (value + unit - 1) / unit * unit;
  }

  static String opName(int op) {
    return switch (op) {
      case OP_READ -> "READ";
      case OP_WRITE -> "WRITE";
      case OP_FLUSH -> "FLUSH";
      case OP_DISCARD -> "DISCARD";
      case OP_WRITE_SAME -> "WRITE_SAME";
      case OP_WRITE_ZEROES -> "WRITE_ZEROES";
      default -> "op " + op;
    };
  }

  // ---- struct ublksrv_io_cmd (16 bytes, fits the command area of a 64-byte SQE) ----

  static final int IO_CMD_SIZE = 16;

  static void ioCmd(MemorySegment area, int queueId, int tag, int result, long addr) {
    area.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) queueId);
    area.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2, (short) tag);
    area.set(ValueLayout.JAVA_INT_UNALIGNED, 4, result);
    area.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, addr);
  }
}
