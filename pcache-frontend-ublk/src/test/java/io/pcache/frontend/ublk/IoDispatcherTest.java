package io.pcache.frontend.ublk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pcache.api.BlockDevice.Feature;
import io.pcache.api.BlockIOException;
import io.pcache.frontend.ublk.uring.Errnos;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The mapping of ublk requests onto {@link io.pcache.api.BlockDevice} calls and of outcomes onto results. */
class IoDispatcherTest {

  private final MemoryDevice device = new MemoryDevice(1 << 20);
  private final IoDispatcher dispatcher = new IoDispatcher(device);
  private final Arena arena = Arena.ofConfined();
  private final MemorySegment buffer = arena.allocate(64 * 1024, 4096);

  @AfterEach
  void close() {
    arena.close();
    device.close();
  }

  @Test
  void writeThenReadReturnsByteCountsAndMovesTheData() {
    for (int i = 0; i < 8192; i++) {
      buffer.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7));
    }
    assertEquals(8192, dispatcher.execute(Uapi.OP_WRITE, 16, 16, buffer));
    buffer.fill((byte) 0);
    assertEquals(8192, dispatcher.execute(Uapi.OP_READ, 16, 16, buffer));
    for (int i = 0; i < 8192; i++) {
      assertEquals((byte) (i * 7), buffer.get(ValueLayout.JAVA_BYTE, i));
    }
    assertEquals(List.of("write 8192+8192", "read 8192+8192"), device.calls);
  }

  @Test
  void everyOpMapsOntoItsCall() {
    assertEquals(4096, dispatcher.execute(Uapi.OP_WRITE | Uapi.IO_F_FUA, 0, 8, buffer));
    assertEquals(0, dispatcher.execute(Uapi.OP_FLUSH, 0, 0, buffer));
    assertEquals(0, dispatcher.execute(Uapi.OP_DISCARD, 8, 2040, buffer));
    assertEquals(0, dispatcher.execute(Uapi.OP_WRITE_ZEROES, 1024, 8, buffer));
    assertEquals(0, dispatcher.execute(Uapi.OP_WRITE_ZEROES | Uapi.IO_F_FUA | Uapi.IO_F_NOUNMAP, 1024, 8, buffer));
    assertEquals(List.of("write-fua 0+4096", "flush", "discard 4096+1044480", "zeroes 524288+4096",
        "zeroes-fua 524288+4096"), device.calls);
  }

  @Test
  void discardLengthsBeyondTwoGigabytesAreNotTruncated() {
    MemoryDevice big = new MemoryDevice(4096, EnumSet.allOf(Feature.class));
    IoDispatcher d = new IoDispatcher(big);
    // 0xffffffff sectors: nr_sectors is unsigned
    assertEquals(-Errnos.EINVAL, d.execute(Uapi.OP_DISCARD, 0, -1, buffer));
    assertEquals(List.of("discard 0+" + (0xffffffffL << 9)), big.calls);
    big.close();
  }

  @Test
  void unknownOpsAreNotSupported() {
    assertEquals(-Errnos.EOPNOTSUPP, dispatcher.execute(Uapi.OP_WRITE_SAME, 0, 8, buffer));
    assertEquals(-Errnos.EOPNOTSUPP, dispatcher.execute(18, 0, 8, buffer));
    assertEquals(List.of(), device.calls);
  }

  @Test
  void errorsBecomeNegativeErrnos() {
    assertEquals(-Errnos.EINVAL, dispatcher.execute(Uapi.OP_READ, (1 << 20) / 512, 8, buffer), "beyond the end");
    device.hook((op, offset, length) -> {
      throw new BlockIOException(BlockIOException.Errno.EIO, "mem", offset, length, "media error");
    });
    assertEquals(-Errnos.EIO, dispatcher.execute(Uapi.OP_WRITE, 0, 8, buffer));
    device.hook((op, offset, length) -> {
      throw new BlockIOException(BlockIOException.Errno.ESHUTDOWN, "mem", offset, length, "closed");
    });
    assertEquals(-Errnos.ESHUTDOWN, dispatcher.execute(Uapi.OP_FLUSH, 0, 0, buffer));
    device.hook((op, offset, length) -> {
      throw new IllegalStateException("bug");
    });
    assertEquals(-Errnos.EIO, dispatcher.execute(Uapi.OP_READ, 0, 8, buffer), "unexpected exceptions are EIO");
    assertEquals(4, dispatcher.errors());
  }

  @Test
  void aRequestLargerThanTheBufferIsRefused() {
    assertEquals(-Errnos.EINVAL, dispatcher.execute(Uapi.OP_READ, 0, 129, buffer));
    assertEquals(-Errnos.EINVAL, dispatcher.execute(Uapi.OP_WRITE, 0, 129, buffer));
    assertEquals(List.of(), device.calls);
  }
}
