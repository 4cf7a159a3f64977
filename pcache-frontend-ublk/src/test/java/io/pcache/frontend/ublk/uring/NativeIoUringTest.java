package io.pcache.frontend.ublk.uring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link IoUring} against the real kernel, where io_uring_setup works (skipped elsewhere): NOP
 * round trips, wrap-around, a full SQ, a timed wait, an eventfd read woken from another thread,
 * and the SQE128 layout.
 */
class NativeIoUringTest {

  private static final UringSyscalls SYS = NativeUring.INSTANCE;

  @BeforeAll
  static void kernelHasIoUring() {
    assumeTrue(NativeUring.failure() == null, () -> "no libc: " + NativeUring.failure());
    try (IoUring ring = IoUring.create(SYS, 2, 0, 0)) {
      assertTrue(ring.fd() >= 0);
    } catch (UringException e) {
      assumeTrue(false, "io_uring_setup does not work here: " + e.getMessage());
    }
  }

  @Test
  void nopRoundTrip() throws Exception {
    try (IoUring ring = IoUring.create(SYS, 8, 0, 0)) {
      assertEquals(8, ring.sqEntries());
      assertEquals(16, ring.cqEntries());
      MemorySegment sqe = ring.nextSqe();
      Sqe.nop(sqe, 0xfeedL);
      assertEquals(1, ring.submitAndWait(1));
      List<long[]> seen = new ArrayList<>();
      assertEquals(1, ring.drainCompletions((ud, res, flags) -> seen.add(new long[] {ud, res})));
      assertEquals(0xfeedL, seen.get(0)[0]);
      assertEquals(0, seen.get(0)[1]);
      assertEquals(0, ring.ready());
    }
  }

  @Test
  void headAndTailWrapAroundTheRingManyTimes() throws Exception {
    try (IoUring ring = IoUring.create(SYS, 4, 0, 0)) {
      long next = 0;
      long expected = 0;
      for (int round = 0; round < 100; round++) {
        int batch = 1 + round % 4;
        for (int i = 0; i < batch; i++) {
          Sqe.nop(ring.nextSqe(), next++);
        }
        ring.submitAndWait(batch);
        long[] want = {expected};
        ring.drainCompletions((ud, res, flags) -> {
          assertEquals(want[0]++, ud);
          assertEquals(0, res);
        });
        expected = want[0];
      }
      assertEquals(next, expected);
    }
  }

  @Test
  void fullSubmissionQueueRefusesMoreUntilSubmitted() throws Exception {
    try (IoUring ring = IoUring.create(SYS, 4, 0, 16)) {
      for (int i = 0; i < 4; i++) {
        Sqe.nop(ring.nextSqe(), i);
      }
      assertNull(ring.nextSqe(), "a fifth SQE in a 4-entry SQ");
      assertEquals(0, ring.sqSpace());
      assertEquals(4, ring.submit());
      assertNotNull(ring.nextSqe(), "space again once the kernel consumed the SQEs");
    }
  }

  @Test
  void timedWaitReturnsFalseWhenNothingCompletes() throws Exception {
    try (IoUring ring = IoUring.create(SYS, 4, 0, 0)) {
      assumeTrue((ring.features() & UringLayout.IORING_FEAT_EXT_ARG) != 0);
      long t0 = System.nanoTime();
      assertFalse(ring.submitAndWait(1, TimeUnit.MILLISECONDS.toNanos(50)));
      assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(40));
    }
  }

  @Test
  void eventfdReadIsWokenByAnotherThread() throws Exception {
    int efd = (int) NativeUring.result(NativeUring.libc().eventfd(0, 0));
    assertTrue(efd >= 0);
    try (IoUring ring = IoUring.create(SYS, 4, 0, 0); Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(8, 8);
      MemorySegment one = arena.allocateFrom(ValueLayout.JAVA_LONG, 3L);
      Sqe.read(ring.nextSqe(), efd, buf.address(), 8, 0, 77);
      ring.submit();
      assertFalse(ring.submitAndWait(1, TimeUnit.MILLISECONDS.toNanos(20)), "nothing to read yet");
      long address = one.address();
      Thread writer = Thread.ofPlatform().start(() -> NativeUring.libc().write(efd, address, 8));
      ring.submitAndWait(1);
      writer.join();
      int[] res = new int[1];
      ring.drainCompletions((ud, r, flags) -> {
        assertEquals(77, ud);
        res[0] = r;
      });
      assertEquals(8, res[0]);
      assertEquals(3L, buf.get(ValueLayout.JAVA_LONG, 0));
    } finally {
      SYS.close(efd);
    }
  }

  @Test
  void sixArgumentMmapThroughJnrWorks() {
    // guards the workaround in LibC.mmap (jnr-ffi 2.3.4 lost the sixth argument of six)
    long address = SYS.mmap(8192, UringLayout.PROT_READ | UringLayout.PROT_WRITE, 0x22 /* PRIVATE|ANONYMOUS */, -1, 0);
    assertTrue(address > 0, "mmap: " + address);
    MemorySegment.ofAddress(address).reinterpret(8192).set(ValueLayout.JAVA_LONG, 8184, 42L);
    assertEquals(0, SYS.munmap(address, 8192));
  }

  @Test
  void sqe128RingHandsOut128ByteEntriesWithAn80ByteCommandArea() throws Exception {
    try (IoUring ring = IoUring.create(SYS, 4, UringLayout.IORING_SETUP_SQE128, 0)) {
      assertEquals(128, ring.sqeSize());
      MemorySegment sqe = ring.nextSqe();
      assertEquals(128, sqe.byteSize());
      MemorySegment cmd = Sqe.uringCmd(sqe, -1, 0x1234, 5);
      assertEquals(80, cmd.byteSize());
      // a URING_CMD on fd -1 fails with EBADF: the kernel read our SQE
      ring.submitAndWait(1);
      int[] res = new int[1];
      ring.drainCompletions((ud, r, flags) -> res[0] = r);
      assertEquals(-Errnos.EBADF, res[0]);
    }
  }
}
