package io.pcache.frontend.ublk.uring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link IoUring}'s ring logic against {@link FakeUringKernel}, on any machine. */
class IoUringTest {

  private final FakeUringKernel kernel = new FakeUringKernel();

  @AfterEach
  void close() {
    kernel.close();
  }

  private static List<Long> drain(IoUring ring) {
    List<Long> seen = new ArrayList<>();
    ring.drainCompletions((ud, res, flags) -> {
      assertEquals(0, res, "res of " + ud);
      seen.add(ud);
    });
    return seen;
  }

  @Test
  void nopsRoundTripInOrderThroughManyWrapArounds() throws Exception {
    try (IoUring ring = IoUring.create(kernel, 4, 0, 0)) {
      assertEquals(4, ring.sqEntries());
      assertEquals(8, ring.cqEntries());
      long next = 0;
      long expected = 0;
      for (int round = 0; round < 5000; round++) {
        int batch = 1 + round % 4;
        for (int i = 0; i < batch; i++) {
          Sqe.nop(ring.nextSqe(), next++);
        }
        assertEquals(batch, ring.submitAndWait(batch));
        for (long ud : drain(ring)) {
          assertEquals(expected++, ud);
        }
      }
      assertEquals(next, expected);
      assertEquals(0, ring.pending());
    }
  }

  @Test
  void offsetsAreTakenFromTheKernelNotAssumed() throws Exception {
    kernel.shuffledOffsets = true; // every field elsewhere; counters start at 2^32 - 3
    try (IoUring ring = IoUring.create(kernel, 2, 0, 0)) {
      for (long i = 0; i < 50; i++) {
        Sqe.nop(ring.nextSqe(), i);
        ring.submitAndWait(1);
        assertEquals(List.of(i), drain(ring));
      }
    }
  }

  @Test
  void aFullSubmissionQueueRefusesEntriesUntilTheKernelConsumes() throws Exception {
    try (IoUring ring = IoUring.create(kernel, 4, 0, 0)) {
      for (int i = 0; i < 4; i++) {
        Sqe.nop(ring.nextSqe(), i);
      }
      assertNull(ring.nextSqe());
      assertEquals(0, ring.sqSpace());
      assertEquals(4, ring.pending());
      assertEquals(4, ring.submit());
      assertEquals(4, ring.sqSpace());
      assertNotNull(ring.nextSqe());
    }
  }

  @Test
  void entriesTheKernelLeftBehindAreSubmittedAgain() throws Exception {
    kernel.maxConsume = 1;
    try (IoUring ring = IoUring.create(kernel, 4, 0, 0)) {
      for (int i = 0; i < 3; i++) {
        Sqe.nop(ring.nextSqe(), i);
      }
      assertEquals(1, ring.submit());
      assertEquals(2, ring.pending());
      assertEquals(1, ring.submit());
      assertEquals(1, ring.submit());
      assertEquals(0, ring.submit());
      assertEquals(List.of(0L, 1L, 2L), drain(ring));
    }
  }

  @Test
  void completionsBeyondTheCqWaitInTheKernelAndArriveInOrder() throws Exception {
    try (IoUring ring = IoUring.create(kernel, 4, 0, 4)) {
      assertEquals(4, ring.cqEntries());
      for (int i = 0; i < 8; i++) {
        Sqe.nop(ring.nextSqe(), i);
        if (i % 4 == 3) {
          ring.submit();
        }
      }
      assertTrue(ring.cqOverflowed());
      assertEquals(List.of(0L, 1L, 2L, 3L), drain(ring));
      ring.submitAndWait(1);
      assertEquals(List.of(4L, 5L, 6L, 7L), drain(ring));
      assertFalse(ring.cqOverflowed());
    }
  }

  @Test
  void aCompletionPostedByAnotherThreadWakesTheWaiter() throws Exception {
    try (IoUring ring = IoUring.create(kernel, 4, 0, 0)) {
      FakeUringKernel.Ring k = kernel.ring(ring.fd());
      Thread poster = Thread.ofPlatform().start(() -> {
        try {
          Thread.sleep(30);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        k.post(99, 0);
      });
      ring.submitAndWait(1);
      poster.join();
      assertEquals(List.of(99L), drain(ring));
    }
  }

  @Test
  void aTimedWaitGivesUp() throws Exception {
    try (IoUring ring = IoUring.create(kernel, 4, 0, 0)) {
      long t0 = System.nanoTime();
      assertFalse(ring.submitAndWait(1, 30_000_000L));
      assertTrue(System.nanoTime() - t0 >= 25_000_000L);
      kernel.ring(ring.fd()).post(5, 0);
      assertTrue(ring.submitAndWait(1, 30_000_000L));
    }
  }

  @Test
  void withoutSingleMmapTheRingsAreMappedSeparately() throws Exception {
    kernel.features = UringLayout.IORING_FEAT_NODROP;
    try (IoUring ring = IoUring.create(kernel, 4, 0, 0)) {
      assertEquals(3, kernel.ringMappings());
      Sqe.nop(ring.nextSqe(), 1);
      ring.submitAndWait(1);
      assertEquals(List.of(1L), drain(ring));
      // no EXT_ARG: a timed wait falls back to an untimed one, which a posted CQE ends
      kernel.ring(ring.fd()).post(2, 0);
      assertTrue(ring.submitAndWait(1, 1_000L));
    }
    assertEquals(0, kernel.ringMappings());
  }

  @Test
  void sqe128RingsHaveAnEightyByteCommandArea() throws Exception {
    try (IoUring ring = IoUring.create(kernel, 2, UringLayout.IORING_SETUP_SQE128, 0)) {
      assertEquals(128, ring.sqeSize());
      MemorySegment sqe = ring.nextSqe();
      assertEquals(80, Sqe.uringCmd(sqe, 1, 2, 3).byteSize());
    }
  }

  @Test
  void setupFailureNamesTheCallAndTheErrno() {
    UringException e = assertThrows(UringException.class, () -> IoUring.create(kernel, 0, 0, 0));
    assertEquals(Errnos.EINVAL, e.errno());
    assertTrue(e.getMessage().startsWith("io_uring_setup(0 entries"), e.getMessage());
  }

  @Test
  void closeUnmapsAndClosesOnceOnly() throws Exception {
    IoUring ring = IoUring.create(kernel, 4, 0, 0);
    assertEquals(1, kernel.openFiles());
    assertEquals(2, kernel.ringMappings());
    ring.close();
    ring.close();
    assertEquals(0, kernel.openFiles());
    assertEquals(0, kernel.ringMappings());
  }

  @Test
  void aClosedFileDescriptorIsAnError() throws Exception {
    IoUring ring = IoUring.create(kernel, 4, 0, 0);
    kernel.close(ring.fd());
    Sqe.nop(ring.nextSqe(), 1);
    UringException e = assertThrows(UringException.class, ring::submit);
    assertEquals(Errnos.EBADF, e.errno());
  }
}
