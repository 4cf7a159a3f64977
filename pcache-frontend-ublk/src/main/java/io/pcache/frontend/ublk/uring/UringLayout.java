package io.pcache.frontend.ublk.uring;

/**
 * The io_uring ABI: structure sizes, field offsets and constants from {@code
 * include/uapi/linux/io_uring.h}. The same on every 64-bit Linux architecture (the structures hold
 * only fixed-size fields). {@code UringLayoutTest} pins every value against the header.
 */
public final class UringLayout {

  private UringLayout() {}

  // ---- system calls (x86_64, aarch64 and every architecture using the generic table: 425/426) ----

  public static final long SYS_IO_URING_SETUP = 425;
  public static final long SYS_IO_URING_ENTER = 426;

  // ---- struct io_uring_params (120 bytes) ----

  public static final int PARAMS_SIZE = 120;
  public static final int PARAMS_SQ_ENTRIES = 0;
  public static final int PARAMS_CQ_ENTRIES = 4;
  public static final int PARAMS_FLAGS = 8;
  public static final int PARAMS_SQ_THREAD_CPU = 12;
  public static final int PARAMS_SQ_THREAD_IDLE = 16;
  public static final int PARAMS_FEATURES = 20;
  public static final int PARAMS_WQ_FD = 24;
  /** struct io_sqring_offsets sq_off (40 bytes). */
  public static final int PARAMS_SQ_OFF = 40;
  /** struct io_cqring_offsets cq_off (40 bytes). */
  public static final int PARAMS_CQ_OFF = 80;

  // struct io_sqring_offsets, relative to PARAMS_SQ_OFF
  public static final int SQOFF_HEAD = 0;
  public static final int SQOFF_TAIL = 4;
  public static final int SQOFF_RING_MASK = 8;
  public static final int SQOFF_RING_ENTRIES = 12;
  public static final int SQOFF_FLAGS = 16;
  public static final int SQOFF_DROPPED = 20;
  public static final int SQOFF_ARRAY = 24;

  // struct io_cqring_offsets, relative to PARAMS_CQ_OFF
  public static final int CQOFF_HEAD = 0;
  public static final int CQOFF_TAIL = 4;
  public static final int CQOFF_RING_MASK = 8;
  public static final int CQOFF_RING_ENTRIES = 12;
  public static final int CQOFF_OVERFLOW = 16;
  public static final int CQOFF_CQES = 20;
  public static final int CQOFF_FLAGS = 24;

  // ---- struct io_uring_sqe (64 bytes; 128 with IORING_SETUP_SQE128) ----

  public static final int SQE_SIZE = 64;
  public static final int SQE128_SIZE = 128;
  public static final int SQE_OPCODE = 0;
  public static final int SQE_FLAGS = 1;
  public static final int SQE_IOPRIO = 2;
  public static final int SQE_FD = 4;
  /** {@code off}, or {@code cmd_op} (u32) for IORING_OP_URING_CMD. */
  public static final int SQE_OFF = 8;
  public static final int SQE_CMD_OP = 8;
  public static final int SQE_ADDR = 16;
  public static final int SQE_LEN = 24;
  /** {@code rw_flags}, {@code uring_cmd_flags} and the other per-opcode flag words. */
  public static final int SQE_OP_FLAGS = 28;
  public static final int SQE_USER_DATA = 32;
  public static final int SQE_BUF_INDEX = 40;
  public static final int SQE_PERSONALITY = 42;
  public static final int SQE_FILE_INDEX = 44;
  public static final int SQE_ADDR3 = 48;
  /** The command area of IORING_OP_URING_CMD: 16 bytes in a 64-byte SQE, 80 in a 128-byte one. */
  public static final int SQE_CMD = 48;
  public static final int SQE_CMD_SIZE = 16;
  public static final int SQE128_CMD_SIZE = 80;

  // ---- struct io_uring_cqe (16 bytes; 32 with IORING_SETUP_CQE32) ----

  public static final int CQE_SIZE = 16;
  public static final int CQE32_SIZE = 32;
  public static final int CQE_USER_DATA = 0;
  public static final int CQE_RES = 8;
  public static final int CQE_FLAGS = 12;

  // ---- struct io_uring_getevents_arg (24 bytes) and struct __kernel_timespec (16 bytes) ----

  public static final int GETEVENTS_ARG_SIZE = 24;
  public static final int GETEVENTS_ARG_SIGMASK = 0;
  public static final int GETEVENTS_ARG_SIGMASK_SZ = 8;
  public static final int GETEVENTS_ARG_TS = 16;
  public static final int TIMESPEC_SIZE = 16;

  // ---- mmap offsets ----

  public static final long IORING_OFF_SQ_RING = 0L;
  public static final long IORING_OFF_CQ_RING = 0x8000000L;
  public static final long IORING_OFF_SQES = 0x10000000L;

  // ---- io_uring_setup flags ----

  public static final int IORING_SETUP_IOPOLL = 1;
  public static final int IORING_SETUP_SQPOLL = 1 << 1;
  public static final int IORING_SETUP_CQSIZE = 1 << 3;
  public static final int IORING_SETUP_CLAMP = 1 << 4;
  public static final int IORING_SETUP_COOP_TASKRUN = 1 << 8;
  public static final int IORING_SETUP_SQE128 = 1 << 10;
  public static final int IORING_SETUP_CQE32 = 1 << 11;
  public static final int IORING_SETUP_SINGLE_ISSUER = 1 << 12;

  // ---- features reported by io_uring_setup ----

  public static final int IORING_FEAT_SINGLE_MMAP = 1;
  public static final int IORING_FEAT_NODROP = 1 << 1;
  public static final int IORING_FEAT_EXT_ARG = 1 << 8;

  // ---- io_uring_enter flags ----

  public static final int IORING_ENTER_GETEVENTS = 1;
  public static final int IORING_ENTER_EXT_ARG = 1 << 3;

  // ---- SQ ring flags ----

  public static final int IORING_SQ_NEED_WAKEUP = 1;
  public static final int IORING_SQ_CQ_OVERFLOW = 1 << 1;

  // ---- opcodes ----

  public static final int IORING_OP_NOP = 0;
  public static final int IORING_OP_READ = 22;
  public static final int IORING_OP_WRITE = 23;
  public static final int IORING_OP_URING_CMD = 46;

  // ---- mmap(2) ----

  public static final int PROT_READ = 1;
  public static final int PROT_WRITE = 2;
  public static final int MAP_SHARED = 1;
  public static final int MAP_POPULATE = 0x8000;
}
