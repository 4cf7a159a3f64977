package io.pcache.frontend.ublk.uring;

import static io.pcache.frontend.ublk.uring.UringLayout.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Fills submission queue entries handed out (zeroed) by {@link IoUring#nextSqe()}. */
public final class Sqe {

  private Sqe() {}

  /** {@code IORING_OP_NOP}: completes with res 0. */
  public static void nop(MemorySegment sqe, long userData) {
    sqe.set(ValueLayout.JAVA_BYTE, SQE_OPCODE, (byte) IORING_OP_NOP);
    sqe.set(ValueLayout.JAVA_LONG_UNALIGNED, SQE_USER_DATA, userData);
  }

  /**
   * {@code IORING_OP_READ} of {@code length} bytes at file offset {@code offset} (-1: the current
   * position) into {@code address}.
   */
  public static void read(MemorySegment sqe, int fd, long address, int length, long offset, long userData) {
    rw(sqe, IORING_OP_READ, fd, address, length, offset, userData);
  }

  /** {@code IORING_OP_WRITE} of {@code length} bytes from {@code address} at file offset {@code offset}. */
  public static void write(MemorySegment sqe, int fd, long address, int length, long offset, long userData) {
    rw(sqe, IORING_OP_WRITE, fd, address, length, offset, userData);
  }

  private static void rw(MemorySegment sqe, int op, int fd, long address, int length, long offset, long userData) {
    sqe.set(ValueLayout.JAVA_BYTE, SQE_OPCODE, (byte) op);
    sqe.set(ValueLayout.JAVA_INT_UNALIGNED, SQE_FD, fd);
    sqe.set(ValueLayout.JAVA_LONG_UNALIGNED, SQE_OFF, offset);
    sqe.set(ValueLayout.JAVA_LONG_UNALIGNED, SQE_ADDR, address);
    sqe.set(ValueLayout.JAVA_INT_UNALIGNED, SQE_LEN, length);
    sqe.set(ValueLayout.JAVA_LONG_UNALIGNED, SQE_USER_DATA, userData);
  }

  /**
   * {@code IORING_OP_URING_CMD} for the driver behind {@code fd}: returns the command area (16
   * bytes in a 64-byte SQE, 80 in a 128-byte one) for the caller to fill.
   */
  public static MemorySegment uringCmd(MemorySegment sqe, int fd, int cmdOp, long userData) {
    sqe.set(ValueLayout.JAVA_BYTE, SQE_OPCODE, (byte) IORING_OP_URING_CMD);
    sqe.set(ValueLayout.JAVA_INT_UNALIGNED, SQE_FD, fd);
    sqe.set(ValueLayout.JAVA_INT_UNALIGNED, SQE_CMD_OP, cmdOp);
    sqe.set(ValueLayout.JAVA_LONG_UNALIGNED, SQE_USER_DATA, userData);
    return sqe.asSlice(SQE_CMD, sqe.byteSize() - SQE_CMD);
  }
}
