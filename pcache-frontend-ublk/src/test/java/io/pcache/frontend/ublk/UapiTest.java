package io.pcache.frontend.ublk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pcache.frontend.ublk.Uapi.DevInfo;
import io.pcache.frontend.ublk.Uapi.Params;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The ublk UAPI encodings against {@code include/uapi/linux/ublk_cmd.h}: command numbers, their
 * ioctl encodings (the table of ublk.md; ADD_DEV = 0xc0207504 as other implementations have it),
 * and every structure's field offsets (printed with {@code offsetof} against the 6.1 header).
 */
class UapiTest {

  @ParameterizedTest(name = "{0} = {2}")
  @CsvSource({
      "GET_QUEUE_AFFINITY, 0x01, 0x80207501",
      "GET_DEV_INFO, 0x02, 0x80207502",
      "ADD_DEV, 0x04, 0xc0207504",
      "DEL_DEV, 0x05, 0xc0207505",
      "START_DEV, 0x06, 0xc0207506",
      "STOP_DEV, 0x07, 0xc0207507",
      "SET_PARAMS, 0x08, 0xc0207508",
      "GET_PARAMS, 0x09, 0x80207509",
      "START_USER_RECOVERY, 0x10, 0xc0207510",
      "END_USER_RECOVERY, 0x11, 0xc0207511",
      "GET_DEV_INFO2, 0x12, 0x80207512",
      "GET_FEATURES, 0x13, 0x80207513",
      "DEL_DEV_ASYNC, 0x14, 0x80207514",
  })
  void controlCommandEncodings(String name, String nr, String encoded) {
    int n = Integer.decode(nr);
    assertEquals((int) Long.parseLong(encoded.substring(2), 16), Uapi.encodedControl(n));
    assertEquals(name, Uapi.commandName(n));
  }

  @Test
  void ioCommandEncodings() {
    assertEquals(0xc0107520, Uapi.encodedIo(Uapi.IO_FETCH_REQ));
    assertEquals(0xc0107521, Uapi.encodedIo(Uapi.IO_COMMIT_AND_FETCH_REQ));
    assertEquals(0xc0107522, Uapi.encodedIo(Uapi.IO_NEED_GET_DATA));
    assertEquals(0x20, Uapi.IO_FETCH_REQ);
    assertEquals(0x21, Uapi.IO_COMMIT_AND_FETCH_REQ);
    assertEquals(-19, Uapi.IO_RES_ABORT);
  }

  @Test
  void ctrlCmdLayout() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s = arena.allocate(80);
      s.fill((byte) 0x55);
      Uapi.ctrlCmd(s, -1, -1, 0x1122334455667788L, 64, 4242);
      assertEquals(32, Uapi.CTRL_CMD_SIZE);
      assertEquals(-1, s.get(ValueLayout.JAVA_INT, 0), "dev_id at 0");
      assertEquals((short) 0xffff, s.get(ValueLayout.JAVA_SHORT, 4), "queue_id at 4");
      assertEquals(64, s.get(ValueLayout.JAVA_SHORT, 6), "len at 6");
      assertEquals(0x1122334455667788L, s.get(ValueLayout.JAVA_LONG, 8), "addr at 8");
      assertEquals(4242L, s.get(ValueLayout.JAVA_LONG, 16), "data[0] at 16");
      assertEquals(0L, s.get(ValueLayout.JAVA_LONG, 24), "data[1] / dev_path_len zeroed");
      assertEquals((byte) 0x55, s.get(ValueLayout.JAVA_BYTE, 32), "nothing written past 32 bytes");
    }
  }

  @Test
  void devInfoLayoutAndRoundTrip() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s = arena.allocate(64);
      DevInfo info = new DevInfo(2, 128, 1, 524288, 7, 4242, 0x44L, 0x7063616300001092L, 1000, 1001);
      info.encode(s);
      assertEquals(2, s.get(ValueLayout.JAVA_SHORT, 0), "nr_hw_queues");
      assertEquals(128, s.get(ValueLayout.JAVA_SHORT, 2), "queue_depth");
      assertEquals(1, s.get(ValueLayout.JAVA_SHORT, 4), "state");
      assertEquals(524288, s.get(ValueLayout.JAVA_INT, 8), "max_io_buf_bytes");
      assertEquals(7, s.get(ValueLayout.JAVA_INT, 12), "dev_id");
      assertEquals(4242, s.get(ValueLayout.JAVA_INT, 16), "ublksrv_pid");
      assertEquals(0x44L, s.get(ValueLayout.JAVA_LONG, 24), "flags");
      assertEquals(0x7063616300001092L, s.get(ValueLayout.JAVA_LONG, 32), "ublksrv_flags");
      assertEquals(1000, s.get(ValueLayout.JAVA_INT, 40), "owner_uid");
      assertEquals(1001, s.get(ValueLayout.JAVA_INT, 44), "owner_gid");
      assertEquals(info, DevInfo.decode(s));
      DevInfo big = new DevInfo(4096, 4096, 3, 1 << 25, -1, -1, -1L, -1L, -1, -1);
      big.encode(s);
      assertEquals(big, DevInfo.decode(s), "u16 fields read back unsigned");
    }
  }

  @Test
  void paramsLayout() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s = arena.allocate(64);
      Params p = new Params(Uapi.ATTR_VOLATILE_CACHE | Uapi.ATTR_FUA, 9, 12, 12, 12, 1024, 0, 524288, 0, true,
          0, 4096, 1 << 21, 1 << 21, 1);
      p.encode(s);
      assertEquals(64, s.get(ValueLayout.JAVA_INT, 0), "len = sizeof(struct ublk_params) in 6.1");
      assertEquals(3, s.get(ValueLayout.JAVA_INT, 4), "types BASIC|DISCARD");
      assertEquals(12, s.get(ValueLayout.JAVA_INT, 8), "basic.attrs");
      assertEquals(9, s.get(ValueLayout.JAVA_BYTE, 12), "logical_bs_shift");
      assertEquals(12, s.get(ValueLayout.JAVA_BYTE, 13), "physical_bs_shift");
      assertEquals(12, s.get(ValueLayout.JAVA_BYTE, 14), "io_opt_shift");
      assertEquals(12, s.get(ValueLayout.JAVA_BYTE, 15), "io_min_shift");
      assertEquals(1024, s.get(ValueLayout.JAVA_INT, 16), "max_sectors");
      assertEquals(0, s.get(ValueLayout.JAVA_INT, 20), "chunk_sectors");
      assertEquals(524288L, s.get(ValueLayout.JAVA_LONG, 24), "dev_sectors");
      assertEquals(0L, s.get(ValueLayout.JAVA_LONG, 32), "virt_boundary_mask");
      assertEquals(0, s.get(ValueLayout.JAVA_INT, 40), "discard.discard_alignment");
      assertEquals(4096, s.get(ValueLayout.JAVA_INT, 44), "discard_granularity");
      assertEquals(1 << 21, s.get(ValueLayout.JAVA_INT, 48), "max_discard_sectors");
      assertEquals(1 << 21, s.get(ValueLayout.JAVA_INT, 52), "max_write_zeroes_sectors");
      assertEquals(1, s.get(ValueLayout.JAVA_SHORT, 56), "max_discard_segments");
      assertEquals(p, Params.decode(s));
      Params basicOnly = new Params(0, 9, 9, 9, 9, 8, 0, 100, 0, false, 0, 0, 0, 0, 0);
      basicOnly.encode(s);
      assertEquals(1, s.get(ValueLayout.JAVA_INT, 4), "types BASIC");
      assertEquals(0, s.get(ValueLayout.JAVA_INT, 44), "no discard part");
    }
  }

  @Test
  void ioCmdAndIoDescLayout() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s = arena.allocate(16);
      Uapi.ioCmd(s, 3, 4095, -5, 0x7f0011223000L);
      assertEquals(3, s.get(ValueLayout.JAVA_SHORT, 0), "q_id");
      assertEquals(4095, s.get(ValueLayout.JAVA_SHORT, 2), "tag");
      assertEquals(-5, s.get(ValueLayout.JAVA_INT, 4), "result");
      assertEquals(0x7f0011223000L, s.get(ValueLayout.JAVA_LONG, 8), "addr");
    }
    assertEquals(24, Uapi.IO_DESC_SIZE);
    assertEquals(0, Uapi.IOD_OP_FLAGS);
    assertEquals(4, Uapi.IOD_NR_SECTORS);
    assertEquals(8, Uapi.IOD_START_SECTOR);
    assertEquals(16, Uapi.IOD_ADDR);
    assertEquals(1 << 13, Uapi.IO_F_FUA);
    assertEquals(5, Uapi.OP_WRITE_ZEROES);
  }

  @Test
  void descriptorMappingsFollowTheDriversArithmetic() {
    // queue q at q * round_up(4096 * 24, PAGE), length round_up(depth * 24, PAGE)
    assertEquals(0, Uapi.descriptorOffset(0, 4096));
    assertEquals(98304, Uapi.descriptorOffset(1, 4096));
    assertEquals(3 * 98304, Uapi.descriptorOffset(3, 4096));
    assertEquals(4096, Uapi.descriptorLength(64, 4096));
    assertEquals(4096, Uapi.descriptorLength(170, 4096));
    assertEquals(8192, Uapi.descriptorLength(171, 4096));
    assertEquals(98304, Uapi.descriptorLength(4096, 4096));
    assertEquals(131072, Uapi.descriptorOffset(1, 65536), "64 KiB pages (aarch64)");
  }

  @Test
  void ownerStampRoundTrips() {
    long stamp = UblkControl.ownerStamp(123456);
    assertEquals(0x70636163L, stamp >>> 32);
    DevInfo info = new DevInfo(1, 1, 0, 4096, 0, -1, 0, stamp, 0, 0);
    assertEquals(123456, UblkControl.stampedOwner(info).orElseThrow());
    assertEquals(java.util.Optional.empty(),
        UblkControl.stampedOwner(new DevInfo(1, 1, 0, 4096, 0, -1, 0, 123456, 0, 0)));
  }
}
