package io.pcache.backing.block;

import io.pcache.api.BlockIOException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Runs blocking native calls off virtual threads.
 *
 * <p>A virtual thread inside a native call pins its carrier: the JDK neither unmounts it nor adds
 * a carrier, as it does for its own blocking file I/O. With one carrier per core (2 here), two
 * reads from a slow disk would stop every virtual thread of the process, NBD sockets included.
 * So an operation called from a virtual thread runs on one of up to {@link #THREADS} platform
 * threads named {@code pcache-block-io-N} (created on demand, gone after 30 s idle), while the
 * virtual thread waits unmounted. Platform-thread callers run their calls directly.
 *
 * <p>The wait is uninterruptible: the native call writes into the caller's memory and must end
 * before the caller goes on. An interrupt that arrives meanwhile is kept and re-asserted.
 *
 * <p>A call handed over must not touch the caller's {@code MemorySegment}s: they may be confined
 * to the caller's thread (a {@code WrongThreadException} on the pool thread). Pass raw addresses
 * to the syscall and copy on the caller's side; the memory stays alive because the caller waits.
 */
final class IoThreads {

  /** How many native calls may block at once for virtual-thread callers (a queue depth). */
  static final int THREADS = 64;

  private static final ThreadPoolExecutor POOL = newPool();
  private static final LongAdder HAND_OFFS = new LongAdder();

  private IoThreads() {}

  /** An operation that blocks in native code. */
  @FunctionalInterface
  interface BlockingCall {
    void run() throws BlockIOException;
  }

  /** Runs {@code call} on a platform thread: this one, or a pool thread if this one is virtual. */
  static void run(BlockingCall call) throws BlockIOException {
    if (!Thread.currentThread().isVirtual()) {
      call.run();
      return;
    }
    HAND_OFFS.increment();
    FutureTask<Void> task = new FutureTask<>(() -> {
      call.run();
      return null;
    });
    POOL.execute(task);
    boolean interrupted = false;
    try {
      while (true) {
        try {
          task.get();
          return;
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          switch (e.getCause()) {
            case BlockIOException b -> throw b;
            case RuntimeException r -> throw r;
            case Error err -> throw err;
            default -> throw new IllegalStateException(e.getCause());
          }
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** How many calls were handed to a pool thread since start (for tests and statistics). */
  static long handOffs() {
    return HAND_OFFS.sum();
  }

  private static ThreadPoolExecutor newPool() {
    AtomicInteger count = new AtomicInteger();
    ThreadPoolExecutor pool = new ThreadPoolExecutor(THREADS, THREADS, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
        r -> Thread.ofPlatform().name("pcache-block-io-" + count.incrementAndGet()).daemon(true).unstarted(r));
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }
}
