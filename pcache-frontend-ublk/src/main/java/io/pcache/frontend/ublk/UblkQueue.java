package io.pcache.frontend.ublk;

import io.pcache.frontend.ublk.uring.Errnos;
import io.pcache.frontend.ublk.uring.IoUring;
import io.pcache.frontend.ublk.uring.Sqe;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One ublk hardware queue: a platform thread with its own io_uring that fetches requests from the
 * kernel, hands each to a virtual thread, and commits the results.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>The daemon rule.</b> The thread that issues FETCH_REQ for a queue becomes that queue's
 * daemon: the kernel accepts COMMIT_AND_FETCH_REQ only from it (6.1 answers EINVAL otherwise) and
 * copies write data into, and read data out of, the tag buffers in its context. So every command
 * of a queue goes through this one thread and its ring.
 *
 * <p><b>Concurrency.</b> A request runs on a virtual thread of its own, so a slow backing read does
 * not hold up cache hits behind it: up to {@code depth} requests of a queue are in flight at once.
 * A finished request puts {@code (tag, result)} on a queue and wakes the queue thread through an
 * eventfd, on which the ring always has a read outstanding; the {@code signalled} flag limits that
 * to one eventfd write per wake-up, however many requests finish meanwhile. (The flag is cleared
 * before the completions are drained, so a completion that sees it set is drained by that pass.)
 *
 * <p><b>Tags.</b> Each tag is with the kernel (a FETCH or COMMIT_AND_FETCH outstanding), with a
 * virtual thread (serving), or gone (aborted with -ENODEV when the device stops, or refused). The
 * thread ends when every tag is gone, or when asked to stop and none is being served.
 *
 * <p><b>Buffers.</b> Each tag owns {@code bufferSize} bytes of {@code buffers} (the "6.1 way": the
 * address travels in every FETCH and COMMIT, and the kernel copies data from and to it).
 */
final class UblkQueue {

  private static final System.Logger LOG = System.getLogger("io.pcache.frontend.ublk");

  /** user_data of the eventfd read; tags are 0..4095. */
  static final long EVENT = 1L << 62;

  private static final byte WITH_KERNEL = 0;
  private static final byte SERVING = 1;
  private static final byte GONE = 2;

  private record Done(int tag, int result) {}

  private final UblkSys sys;
  private final int qid;
  private final int depth;
  private final int cdevFd;
  private final MemorySegment descriptors;
  private final MemorySegment buffers;
  private final int bufferSize;
  private final MemorySegment eventBuffer;
  private final IoDispatcher dispatcher;
  private final int fetchOp;
  private final int commitOp;
  private final ThreadFactory ioThreads;
  private final ConcurrentLinkedQueue<Done> done = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean signalled = new AtomicBoolean();
  /** Virtual threads started and not yet past their last use of the eventfd. */
  private final AtomicInteger running = new AtomicInteger();
  private final CompletableFuture<Void> ready = new CompletableFuture<>();
  private final CompletableFuture<Void> finished = new CompletableFuture<>();
  private final AtomicLong requests = new AtomicLong();
  private final byte[] state;
  private volatile boolean stopRequested;
  private volatile Throwable failure;
  private int eventFd = -1;
  private Thread thread;
  // owned by the queue thread
  private IoUring ring;
  private int gone;
  private int serving;
  private boolean eventArmed;

  /**
   * @param descriptors the queue's {@code ublksrv_io_desc} array, mapped read-only
   * @param buffers {@code depth * bufferSize} bytes of native memory, one buffer per tag
   * @param eventBuffer 8 bytes of native memory for the eventfd read
   * @param ioctlEncoded whether the kernel takes ioctl-encoded I/O commands
   */
  UblkQueue(UblkSys sys, int qid, int depth, int cdevFd, MemorySegment descriptors, MemorySegment buffers,
      int bufferSize, MemorySegment eventBuffer, IoDispatcher dispatcher, boolean ioctlEncoded, String deviceName) {
    this.sys = sys;
    this.qid = qid;
    this.depth = depth;
    this.cdevFd = cdevFd;
    this.descriptors = descriptors;
    this.buffers = buffers;
    this.bufferSize = bufferSize;
    this.eventBuffer = eventBuffer;
    this.dispatcher = dispatcher;
    this.fetchOp = ioctlEncoded ? Uapi.encodedIo(Uapi.IO_FETCH_REQ) : Uapi.IO_FETCH_REQ;
    this.commitOp = ioctlEncoded ? Uapi.encodedIo(Uapi.IO_COMMIT_AND_FETCH_REQ) : Uapi.IO_COMMIT_AND_FETCH_REQ;
    this.ioThreads = Thread.ofVirtual().name("pcache-" + deviceName + "-q" + qid + "-io").factory();
    this.state = new byte[depth];
  }

  /** Starts the queue thread; {@link #ready()} completes once every tag was fetched. */
  void start(String deviceName) {
    thread = Thread.ofPlatform().name("pcache-" + deviceName + "-q" + qid).daemon(true).start(this::run);
  }

  /** Completes when every FETCH_REQ was accepted; fails with the reason otherwise. */
  CompletableFuture<Void> ready() {
    return ready;
  }

  /** Completes when the thread has ended and released its ring. */
  CompletableFuture<Void> finished() {
    return finished;
  }

  /** Why the queue thread ended early, or null. */
  Throwable failure() {
    return failure;
  }

  /** Requests served so far. */
  long requests() {
    return requests.get();
  }

  /**
   * Asks the thread to end once no request is being served, without waiting for the kernel to
   * abort the fetches (STOP_DEV normally does that). For shutdowns that STOP_DEV could not finish.
   */
  synchronized void requestStop() {
    stopRequested = true;
    if (eventFd >= 0) {
      sys.signal(eventFd);
    }
  }

  private void run() {
    try {
      int r = sys.setIoFlusher();
      if (r < 0) {
        LOG.log(System.Logger.Level.DEBUG, "ublk queue " + qid + ": PR_SET_IO_FLUSHER: " + sys.describe(-r));
      }
      int efd = sys.eventfd();
      if (efd < 0) {
        throw new IOException("eventfd: " + sys.describe(-efd));
      }
      synchronized (this) {
        eventFd = efd;
      }
      ring = IoUring.create(sys, depth + 1, 0, 0);
      for (int tag = 0; tag < depth; tag++) {
        prepareIo(fetchOp, tag, 0);
      }
      armEvent();
      ring.submit();
      ring.drainCompletions(this::onCompletion);
      if (gone > 0) {
        throw new IOException("the kernel refused FETCH_REQ on queue " + qid + ": "
            + (failure != null ? failure.getMessage() : "aborted at once"));
      }
      ready.complete(null);
      loop();
    } catch (Throwable t) {
      if (failure == null) {
        failure = t;
      }
      if (!ready.completeExceptionally(t)) {
        LOG.log(System.Logger.Level.ERROR, "ublk queue " + qid + " failed; the kernel stops the device within 5 s: "
            + t, t);
      }
    } finally {
      release();
    }
  }

  private void loop() throws IOException {
    while (true) {
      for (Done d; (d = done.poll()) != null; ) {
        serving--;
        if (state[d.tag] == SERVING) {
          state[d.tag] = WITH_KERNEL;
          prepareIo(commitOp, d.tag, d.result);
        }
      }
      if (gone == depth || (stopRequested && serving == 0)) {
        return;
      }
      if (!eventArmed) {
        armEvent();
      }
      ring.submitAndWait(1);
      ring.drainCompletions(this::onCompletion);
    }
  }

  private void onCompletion(long userData, int res, int flags) {
    if (userData == EVENT) {
      eventArmed = false;
      signalled.set(false);
      if (res < 0 && res != -Errnos.ECANCELED) {
        LOG.log(System.Logger.Level.WARNING, "ublk queue " + qid + ": eventfd read: " + sys.describe(-res));
      }
      return;
    }
    int tag = (int) userData;
    if (res == Uapi.IO_RES_OK) {
      requests.incrementAndGet();
      if (stopRequested) {
        // shutting down without the kernel's abort: answer at once
        prepareIo(commitOp, tag, -Errnos.EIO);
        return;
      }
      state[tag] = SERVING;
      serving++;
      dispatch(tag);
    } else {
      state[tag] = GONE;
      gone++;
      if (res != Uapi.IO_RES_ABORT) {
        String message = "ublk queue " + qid + " tag " + tag + ": the kernel refused the I/O command: "
            + sys.describe(-res);
        if (failure == null) {
          failure = new IOException(message);
        }
        LOG.log(System.Logger.Level.ERROR, message);
      }
    }
  }

  private void dispatch(int tag) {
    long d = (long) tag * Uapi.IO_DESC_SIZE;
    int opFlags = descriptors.get(ValueLayout.JAVA_INT_UNALIGNED, d + Uapi.IOD_OP_FLAGS);
    int nrSectors = descriptors.get(ValueLayout.JAVA_INT_UNALIGNED, d + Uapi.IOD_NR_SECTORS);
    long startSector = descriptors.get(ValueLayout.JAVA_LONG_UNALIGNED, d + Uapi.IOD_START_SECTOR);
    MemorySegment buffer = buffers.asSlice((long) tag * bufferSize, bufferSize);
    running.incrementAndGet();
    ioThreads.newThread(() -> {
      int result = -Errnos.EIO;
      try {
        result = dispatcher.execute(opFlags, startSector, nrSectors, buffer);
      } finally {
        complete(tag, result);
      }
    }).start();
  }

  private void complete(int tag, int result) {
    try {
      done.add(new Done(tag, result));
      if (!signalled.get() && signalled.compareAndSet(false, true)) {
        int r = sys.signal(eventFd);
        if (r < 0) {
          LOG.log(System.Logger.Level.ERROR, "ublk queue " + qid + ": eventfd write: " + sys.describe(-r));
        }
      }
    } finally {
      running.decrementAndGet();
    }
  }

  private void prepareIo(int op, int tag, int result) {
    MemorySegment sqe = ring.nextSqe();
    if (sqe == null) {
      try {
        ring.submit();
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
      sqe = ring.nextSqe();
      if (sqe == null) {
        throw new IllegalStateException("ublk queue " + qid + ": the io_uring submission queue stays full");
      }
    }
    MemorySegment cmd = Sqe.uringCmd(sqe, cdevFd, op, tag);
    Uapi.ioCmd(cmd, qid, tag, result, buffers.address() + (long) tag * bufferSize);
  }

  private void armEvent() {
    MemorySegment sqe = ring.nextSqe();
    if (sqe != null) {
      Sqe.read(sqe, eventFd, eventBuffer.address(), 8, 0, EVENT);
      eventArmed = true;
    }
  }

  /** Ends the outstanding eventfd read cleanly, closes the ring, then the eventfd once no virtual thread may write it. */
  private void release() {
    try {
      if (ring != null) {
        if (eventArmed) {
          sys.signal(eventFd);
          for (int i = 0; i < 100 && eventArmed; i++) {
            ring.submitAndWait(1, 100_000_000L);
            ring.drainCompletions(this::onCompletion);
          }
        }
        ring.close();
      }
    } catch (Throwable t) {
      LOG.log(System.Logger.Level.WARNING, "ublk queue " + qid + ": closing the ring: " + t);
      if (ring != null) {
        ring.close();
      }
    } finally {
      while (running.get() > 0) {
        java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L);
      }
      synchronized (this) {
        if (eventFd >= 0) {
          sys.close(eventFd);
          eventFd = -1;
        }
      }
      if (!ready.isDone()) {
        ready.completeExceptionally(failure != null ? failure : new IOException("ublk queue " + qid + " ended"));
      }
      finished.complete(null);
    }
  }

  /** Waits for the thread to end, at most {@code millis}; returns whether it did. */
  boolean join(long millis) throws InterruptedException {
    return thread == null || thread.join(java.time.Duration.ofMillis(millis));
  }
}
