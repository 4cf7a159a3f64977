package io.pcache.frontend.ublk.uring;

import static io.pcache.frontend.ublk.uring.UringLayout.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * The io_uring ABI constants against {@code include/uapi/linux/io_uring.h}: the expected values
 * were printed with {@code offsetof}/{@code sizeof} by a C program compiled against the header
 * (linux-libc-dev 6.1, x86_64; the structures hold only fixed-size fields, so 64-bit architectures
 * agree).
 */
class UringLayoutTest {

  @Test
  void ioUringParams() {
    assertEquals(120, PARAMS_SIZE);
    assertEquals(0, PARAMS_SQ_ENTRIES);
    assertEquals(4, PARAMS_CQ_ENTRIES);
    assertEquals(8, PARAMS_FLAGS);
    assertEquals(20, PARAMS_FEATURES);
    assertEquals(24, PARAMS_WQ_FD);
    assertEquals(40, PARAMS_SQ_OFF);
    assertEquals(80, PARAMS_CQ_OFF);
  }

  @Test
  void sqringAndCqringOffsets() {
    assertEquals(0, SQOFF_HEAD);
    assertEquals(4, SQOFF_TAIL);
    assertEquals(8, SQOFF_RING_MASK);
    assertEquals(12, SQOFF_RING_ENTRIES);
    assertEquals(16, SQOFF_FLAGS);
    assertEquals(20, SQOFF_DROPPED);
    assertEquals(24, SQOFF_ARRAY);
    assertEquals(0, CQOFF_HEAD);
    assertEquals(4, CQOFF_TAIL);
    assertEquals(8, CQOFF_RING_MASK);
    assertEquals(12, CQOFF_RING_ENTRIES);
    assertEquals(16, CQOFF_OVERFLOW);
    assertEquals(20, CQOFF_CQES);
    assertEquals(24, CQOFF_FLAGS);
    // the two offset structs are 40 bytes each and follow each other
    assertEquals(PARAMS_SQ_OFF + 40, PARAMS_CQ_OFF);
    assertEquals(PARAMS_CQ_OFF + 40, PARAMS_SIZE);
  }

  @Test
  void sqeFields() {
    assertEquals(64, SQE_SIZE);
    assertEquals(128, SQE128_SIZE);
    assertEquals(0, SQE_OPCODE);
    assertEquals(1, SQE_FLAGS);
    assertEquals(2, SQE_IOPRIO);
    assertEquals(4, SQE_FD);
    assertEquals(8, SQE_OFF);
    assertEquals(8, SQE_CMD_OP);
    assertEquals(16, SQE_ADDR);
    assertEquals(24, SQE_LEN);
    assertEquals(28, SQE_OP_FLAGS);
    assertEquals(32, SQE_USER_DATA);
    assertEquals(40, SQE_BUF_INDEX);
    assertEquals(42, SQE_PERSONALITY);
    assertEquals(44, SQE_FILE_INDEX);
    assertEquals(48, SQE_ADDR3);
    assertEquals(48, SQE_CMD);
    assertEquals(SQE_SIZE - SQE_CMD, SQE_CMD_SIZE);
    assertEquals(SQE128_SIZE - SQE_CMD, SQE128_CMD_SIZE);
  }

  @Test
  void cqeAndGeteventsArg() {
    assertEquals(16, CQE_SIZE);
    assertEquals(0, CQE_USER_DATA);
    assertEquals(8, CQE_RES);
    assertEquals(12, CQE_FLAGS);
    assertEquals(24, GETEVENTS_ARG_SIZE);
    assertEquals(0, GETEVENTS_ARG_SIGMASK);
    assertEquals(8, GETEVENTS_ARG_SIGMASK_SZ);
    assertEquals(16, GETEVENTS_ARG_TS);
  }

  @Test
  void opcodesFlagsAndMmapOffsets() {
    assertEquals(0, IORING_OP_NOP);
    assertEquals(22, IORING_OP_READ);
    assertEquals(23, IORING_OP_WRITE);
    assertEquals(46, IORING_OP_URING_CMD);
    assertEquals(1 << 10, IORING_SETUP_SQE128);
    assertEquals(1 << 11, IORING_SETUP_CQE32);
    assertEquals(1 << 3, IORING_SETUP_CQSIZE);
    assertEquals(1, IORING_ENTER_GETEVENTS);
    assertEquals(8, IORING_ENTER_EXT_ARG);
    assertEquals(0L, IORING_OFF_SQ_RING);
    assertEquals(0x8000000L, IORING_OFF_CQ_RING);
    assertEquals(0x10000000L, IORING_OFF_SQES);
    assertEquals(425, SYS_IO_URING_SETUP);
    assertEquals(426, SYS_IO_URING_ENTER);
  }

  @Test
  void sqeHelpersWriteTheFieldsWhereTheKernelReadsThem() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment sqe = arena.allocate(SQE_SIZE, 8);
      Sqe.read(sqe, 7, 0x1122334455L, 8, 0x40, 0xabcdefL);
      assertEquals(IORING_OP_READ, sqe.get(ValueLayout.JAVA_BYTE, 0));
      assertEquals(7, sqe.get(ValueLayout.JAVA_INT, 4));
      assertEquals(0x40L, sqe.get(ValueLayout.JAVA_LONG, 8));
      assertEquals(0x1122334455L, sqe.get(ValueLayout.JAVA_LONG, 16));
      assertEquals(8, sqe.get(ValueLayout.JAVA_INT, 24));
      assertEquals(0xabcdefL, sqe.get(ValueLayout.JAVA_LONG, 32));

      MemorySegment big = arena.allocate(SQE128_SIZE, 8);
      MemorySegment cmd = Sqe.uringCmd(big, 3, 0xc0207504, 9);
      assertEquals(IORING_OP_URING_CMD, big.get(ValueLayout.JAVA_BYTE, 0));
      assertEquals(3, big.get(ValueLayout.JAVA_INT, 4));
      assertEquals(0xc0207504, big.get(ValueLayout.JAVA_INT, 8));
      assertEquals(9L, big.get(ValueLayout.JAVA_LONG, 32));
      assertEquals(80, cmd.byteSize());
      assertEquals(big.address() + 48, cmd.address());
    }
  }
}
