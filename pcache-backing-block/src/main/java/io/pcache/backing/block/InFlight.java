package io.pcache.backing.block;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Counts the operations using a file descriptor so that {@code close} can wait for them: closing a
 * descriptor under a running {@code pread} would let the kernel hand its number to the next {@code
 * open}, and the {@code pread} (or a retry of it) would then touch an unrelated file.
 *
 * <p>Lock-free: entering and leaving are one atomic add each, so operations never wait for each
 * other, only {@link #close()} waits for them.
 */
final class InFlight {

  /** The sign bit marks "closed"; the other bits count operations inside. */
  private static final int CLOSED = Integer.MIN_VALUE;

  private final AtomicInteger state = new AtomicInteger();

  /** Enters an operation; false (and nothing to leave) once closed. */
  boolean enter() {
    if (state.incrementAndGet() < 0) {
      state.decrementAndGet();
      return false;
    }
    return true;
  }

  /** Leaves an operation entered with {@link #enter()}. */
  void leave() {
    state.decrementAndGet();
  }

  /**
   * Refuses new operations and waits until those inside have left.
   *
   * @return true for the call that closed, false when already closed
   */
  boolean close() {
    int s;
    do {
      s = state.get();
      if (s < 0) {
        return false;
      }
    } while (!state.compareAndSet(s, s | CLOSED));
    while ((state.get() & ~CLOSED) != 0) {
      LockSupport.parkNanos(100_000); // rare, short: an operation finishing its syscall
    }
    return true;
  }

  /** Whether {@link #close()} has been called. */
  boolean isClosed() {
    return state.get() < 0;
  }
}
