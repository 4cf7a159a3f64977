package io.pcache.frontend.ublk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pcache.frontend.ublk.uring.Errnos;
import io.pcache.frontend.ublk.uring.IoUring;
import io.pcache.frontend.ublk.uring.Sqe;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** {@link NativeUblkSys} on this machine: the calls that need no ublk driver. */
class NativeUblkSysTest {

  private final NativeUblkSys sys = NativeUblkSys.INSTANCE;

  @Test
  void processesAreRecognisedAlive() {
    assumeTrue(sys.nativeFailure() == null);
    assertEquals(ProcessHandle.current().pid(), sys.getpid());
    assertTrue(sys.processAlive(sys.getpid()));
    assertFalse(sys.processAlive(-1));
    assertFalse(sys.processAlive(0x3fffffff), "no such pid");
    assertTrue(sys.pageSize() >= 4096 && Integer.bitCount(sys.pageSize()) == 1);
  }

  @Test
  void anEventfdSignalWakesARingRead() throws Exception {
    assumeTrue(sys.nativeFailure() == null);
    int efd = sys.eventfd();
    assertTrue(efd >= 0, sys.describe(-efd));
    try (IoUring ring = IoUring.create(sys, 4, 0, 0); Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(8, 8);
      Sqe.read(ring.nextSqe(), efd, buf.address(), 8, 0, 1);
      assertFalse(ring.submitAndWait(1, 20_000_000L));
      assertEquals(0, sys.signal(efd));
      assertEquals(0, sys.signal(efd));
      assertTrue(ring.submitAndWait(1, 5_000_000_000L));
      int[] res = new int[1];
      ring.drainCompletions((ud, r, f) -> res[0] = r);
      assertEquals(8, res[0]);
      assertTrue(buf.get(ValueLayout.JAVA_LONG, 0) >= 1);
    } catch (io.pcache.frontend.ublk.uring.UringException e) {
      assumeTrue(false, "no io_uring here: " + e.getMessage());
    } finally {
      sys.close(efd);
    }
    assertEquals(-Errnos.EBADF, sys.signal(efd), "closed");
  }

  @Test
  void openReportsErrnos() {
    assumeTrue(sys.nativeFailure() == null);
    assertEquals(-Errnos.ENOENT, sys.open("/nonexistent/ublk-control"));
    assertTrue(sys.describe(Errnos.ENOENT).contains("ENOENT"));
  }
}
