package io.pcache.frontend.ublk.uring;

import static io.pcache.frontend.ublk.uring.UringLayout.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An in-memory io_uring "kernel" for tests: io_uring_setup lays the rings out as Linux does (or
 * with every offset moved, to prove that {@link IoUring} reads them from the params), mmap hands
 * out native memory, and io_uring_enter consumes SQEs with the same acquire/release protocol,
 * runs them ({@link #process}: NOP here, more in subclasses) and waits for completions.
 * Completions may be posted from any thread ({@link Ring#post}); when the CQ is full they wait in
 * an overflow list, as with IORING_FEAT_NODROP.
 */
public class FakeUringKernel implements UringSyscalls, AutoCloseable {

  private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

  protected final Arena arena = Arena.ofShared();
  protected final Map<Integer, Object> files = new ConcurrentHashMap<>();
  private final AtomicInteger nextFd = new AtomicInteger(100);
  private final Map<Long, Long> mapped = new ConcurrentHashMap<>();

  /** Reported features; clear IORING_FEAT_SINGLE_MMAP to get two ring mappings. */
  public volatile int features = IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG;
  /** Lay the ring fields out at other offsets than Linux does. */
  public volatile boolean shuffledOffsets;
  /** At most this many SQEs consumed per io_uring_enter (the rest stay in the SQ). */
  public volatile int maxConsume = Integer.MAX_VALUE;
  /** io_uring_enter calls so far. */
  public final AtomicInteger enters = new AtomicInteger();

  /** One io_uring instance. */
  public final class Ring {
    public final int fd;
    public final int sqEntries;
    public final int cqEntries;
    public final int sqeSize;
    final MemorySegment rings;
    final MemorySegment sqes;
    final long sqHead;
    final long sqTail;
    final long sqArray;
    final long sqFlags;
    final long cqHead;
    final long cqTail;
    final long cqes;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition posted = lock.newCondition();
    private final Deque<long[]> overflow = new ArrayDeque<>();
    private final List<Long> consumedUserData = new ArrayList<>();
    volatile boolean closed;

    Ring(int fd, int sqEntries, int cqEntries, int sqeSize, MemorySegment params) {
      this.fd = fd;
      this.sqEntries = sqEntries;
      this.cqEntries = cqEntries;
      this.sqeSize = sqeSize;
      // Linux 6.x: sq head/tail, cq head/tail, masks, entries, dropped, flags, cq flags, overflow, cqes at 64,
      // then the SQ array. Shuffled: the same fields in another order, cqes and array elsewhere.
      int[] o = shuffledOffsets
          ? new int[] {48, 12, 40, 0, 28, 4, 20, 8, 36, 24, 44, 16, 128}
          : new int[] {0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 64};
      long cqesOff = o[12];
      long arrayOff = cqesOff + (long) cqEntries * CQE_SIZE + (shuffledOffsets ? 192 : 0);
      long ringBytes = arrayOff + 4L * sqEntries;
      this.rings = arena.allocate(ringBytes, 4096);
      this.sqes = arena.allocate((long) sqEntries * sqeSize, 4096);
      this.sqHead = o[0];
      this.sqTail = o[1];
      this.cqHead = o[2];
      this.cqTail = o[3];
      long sqMask = o[4];
      long cqMask = o[5];
      long sqEnt = o[6];
      long cqEnt = o[7];
      long dropped = o[8];
      this.sqFlags = o[9];
      long cqFlags = o[10];
      long cqOverflow = o[11];
      this.cqes = cqesOff;
      this.sqArray = arrayOff;
      rings.set(ValueLayout.JAVA_INT, sqMask, sqEntries - 1);
      rings.set(ValueLayout.JAVA_INT, cqMask, cqEntries - 1);
      rings.set(ValueLayout.JAVA_INT, sqEnt, sqEntries);
      rings.set(ValueLayout.JAVA_INT, cqEnt, cqEntries);
      params.set(ValueLayout.JAVA_INT, PARAMS_SQ_ENTRIES, sqEntries);
      params.set(ValueLayout.JAVA_INT, PARAMS_CQ_ENTRIES, cqEntries);
      params.set(ValueLayout.JAVA_INT, PARAMS_FEATURES, features);
      int sq = PARAMS_SQ_OFF;
      int cq = PARAMS_CQ_OFF;
      params.set(ValueLayout.JAVA_INT, sq + SQOFF_HEAD, (int) sqHead);
      params.set(ValueLayout.JAVA_INT, sq + SQOFF_TAIL, (int) sqTail);
      params.set(ValueLayout.JAVA_INT, sq + SQOFF_RING_MASK, (int) sqMask);
      params.set(ValueLayout.JAVA_INT, sq + SQOFF_RING_ENTRIES, (int) sqEnt);
      params.set(ValueLayout.JAVA_INT, sq + SQOFF_FLAGS, (int) sqFlags);
      params.set(ValueLayout.JAVA_INT, sq + SQOFF_DROPPED, (int) dropped);
      params.set(ValueLayout.JAVA_INT, sq + SQOFF_ARRAY, (int) arrayOff);
      params.set(ValueLayout.JAVA_INT, cq + CQOFF_HEAD, (int) cqHead);
      params.set(ValueLayout.JAVA_INT, cq + CQOFF_TAIL, (int) cqTail);
      params.set(ValueLayout.JAVA_INT, cq + CQOFF_RING_MASK, (int) cqMask);
      params.set(ValueLayout.JAVA_INT, cq + CQOFF_RING_ENTRIES, (int) cqEnt);
      params.set(ValueLayout.JAVA_INT, cq + CQOFF_OVERFLOW, (int) cqOverflow);
      params.set(ValueLayout.JAVA_INT, cq + CQOFF_CQES, (int) cqesOff);
      params.set(ValueLayout.JAVA_INT, cq + CQOFF_FLAGS, (int) cqFlags);
      // a kernel starts its counters anywhere; start near 2^32 to wrap early
      int start = shuffledOffsets ? -3 : 0;
      rings.set(ValueLayout.JAVA_INT, sqHead, start);
      rings.set(ValueLayout.JAVA_INT, sqTail, start);
      rings.set(ValueLayout.JAVA_INT, cqHead, start);
      rings.set(ValueLayout.JAVA_INT, cqTail, start);
    }

    /** Posts a CQE; thread-safe. Goes to the overflow list when the CQ is full. */
    public void post(long userData, int res) {
      lock.lock();
      try {
        if (closed) {
          return;
        }
        if (!overflow.isEmpty() || !write(userData, res)) {
          overflow.add(new long[] {userData, res});
          rings.set(ValueLayout.JAVA_INT, sqFlags, IORING_SQ_CQ_OVERFLOW);
        }
        posted.signalAll();
      } finally {
        lock.unlock();
      }
    }

    private boolean write(long userData, int res) {
      int head = (int) INT.getAcquire(rings, cqHead);
      int tail = (int) INT.get(rings, cqTail);
      if (tail - head >= cqEntries) {
        return false;
      }
      long off = cqes + (long) (tail & (cqEntries - 1)) * CQE_SIZE;
      rings.set(ValueLayout.JAVA_LONG, off + CQE_USER_DATA, userData);
      rings.set(ValueLayout.JAVA_INT, off + CQE_RES, res);
      rings.set(ValueLayout.JAVA_INT, off + CQE_FLAGS, 0);
      INT.setRelease(rings, cqTail, tail + 1);
      return true;
    }

    private void flushOverflow() {
      lock.lock();
      try {
        while (!overflow.isEmpty() && write(overflow.peek()[0], (int) overflow.peek()[1])) {
          overflow.poll();
        }
        if (overflow.isEmpty()) {
          rings.set(ValueLayout.JAVA_INT, sqFlags, 0);
        }
      } finally {
        lock.unlock();
      }
    }

    /** CQEs posted and not yet reaped by the application. */
    public int ready() {
      return (int) INT.getAcquire(rings, cqTail) - (int) INT.getAcquire(rings, cqHead);
    }

    /** user_data of every SQE consumed so far, in order. */
    public synchronized List<Long> consumed() {
      return List.copyOf(consumedUserData);
    }

    int consume(int toSubmit) {
      int head = (int) INT.get(rings, sqHead);
      int tail = (int) INT.getAcquire(rings, sqTail);
      int n = Math.min(Math.min(toSubmit, tail - head), maxConsume);
      for (int i = 0; i < n; i++) {
        int index = rings.get(ValueLayout.JAVA_INT, sqArray + 4L * ((head + i) & (sqEntries - 1)));
        MemorySegment sqe = sqes.asSlice((long) index * sqeSize, sqeSize);
        long userData = sqe.get(ValueLayout.JAVA_LONG, SQE_USER_DATA);
        synchronized (this) {
          consumedUserData.add(userData);
        }
        // the SQE may be reused once head moves: copy it first, as the kernel does
        MemorySegment copy = Arena.ofAuto().allocate(sqeSize, 8).copyFrom(sqe);
        INT.setRelease(rings, sqHead, head + i + 1);
        process(this, copy, userData, Byte.toUnsignedInt(copy.get(ValueLayout.JAVA_BYTE, SQE_OPCODE)),
            copy.get(ValueLayout.JAVA_INT, SQE_FD));
      }
      return n;
    }

    /** Waits until {@code n} CQEs are ready; false on timeout. */
    boolean await(int n, long nanos) throws InterruptedException {
      lock.lock();
      try {
        long left = nanos;
        while (ready() < n) {
          if (left <= 0) {
            return false;
          }
          left = posted.awaitNanos(left);
        }
        return true;
      } finally {
        lock.unlock();
      }
    }
  }

  @Override
  public int setup(int entries, MemorySegment params) {
    if (entries < 1 || entries > 32768) {
      return -Errnos.EINVAL;
    }
    int flags = params.get(ValueLayout.JAVA_INT, PARAMS_FLAGS);
    int sq = Integer.highestOneBit(entries - 1) << 1;
    sq = Math.max(sq, 1);
    int cq = 2 * sq;
    if ((flags & IORING_SETUP_CQSIZE) != 0) {
      int want = params.get(ValueLayout.JAVA_INT, PARAMS_CQ_ENTRIES);
      if (want < sq) {
        return -Errnos.EINVAL;
      }
      cq = Integer.highestOneBit(want - 1) << 1;
    }
    int fd = nextFd.getAndIncrement();
    files.put(fd, new Ring(fd, sq, cq, (flags & IORING_SETUP_SQE128) != 0 ? SQE128_SIZE : SQE_SIZE, params));
    return fd;
  }

  /** The ring behind {@code fd}. */
  public Ring ring(int fd) {
    return (Ring) files.get(fd);
  }

  @Override
  public int enter(int fd, int toSubmit, int minComplete, int flags, MemorySegment arg, long argSize) {
    enters.incrementAndGet();
    if (!(files.get(fd) instanceof Ring r)) {
      return -Errnos.EBADF;
    }
    int submitted = r.consume(toSubmit);
    r.flushOverflow();
    if ((flags & IORING_ENTER_GETEVENTS) == 0 || minComplete == 0) {
      return submitted;
    }
    long nanos = Long.MAX_VALUE;
    if ((flags & IORING_ENTER_EXT_ARG) != 0) {
      if (argSize != GETEVENTS_ARG_SIZE) {
        return -Errnos.EINVAL;
      }
      MemorySegment a = arg.reinterpret(GETEVENTS_ARG_SIZE);
      long tsAddress = a.get(ValueLayout.JAVA_LONG, GETEVENTS_ARG_TS);
      if (tsAddress != 0) {
        MemorySegment ts = MemorySegment.ofAddress(tsAddress).reinterpret(TIMESPEC_SIZE);
        nanos = ts.get(ValueLayout.JAVA_LONG, 0) * 1_000_000_000L + ts.get(ValueLayout.JAVA_LONG, 8);
      }
    }
    try {
      while (true) {
        r.flushOverflow();
        if (r.await(minComplete, Math.min(nanos, TimeUnit.MILLISECONDS.toNanos(50)))) {
          return submitted;
        }
        if (nanos != Long.MAX_VALUE) {
          nanos -= TimeUnit.MILLISECONDS.toNanos(50);
          if (nanos <= 0) {
            return submitted > 0 ? submitted : -Errnos.ETIME;
          }
        }
        if (r.closed) {
          return -Errnos.EBADF;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -Errnos.EINTR;
    }
  }

  /** A new file descriptor number for a file of a subclass, registered as {@code file}. */
  protected int allocateFd(Object file) {
    int fd = nextFd.getAndIncrement();
    files.put(fd, file);
    return fd;
  }

  /** Runs one SQE (already consumed). This kernel knows only NOP. */
  protected void process(Ring ring, MemorySegment sqe, long userData, int opcode, int fd) {
    if (opcode == IORING_OP_NOP) {
      ring.post(userData, 0);
    } else {
      ring.post(userData, -Errnos.EINVAL);
    }
  }

  @Override
  public long mmap(long length, int prot, int flags, int fd, long offset) {
    Object f = files.get(fd);
    if (f instanceof Ring r) {
      MemorySegment s = offset == IORING_OFF_SQES ? r.sqes
          : offset == IORING_OFF_SQ_RING || (offset == IORING_OFF_CQ_RING
              && (features & IORING_FEAT_SINGLE_MMAP) == 0) ? r.rings : null;
      if (s == null || length > s.byteSize()) {
        return -Errnos.EINVAL;
      }
      mapped.merge(s.address(), 1L, Long::sum);
      return s.address();
    }
    if (f == null) {
      return -Errnos.EBADF;
    }
    return mmapFile(f, length, prot, flags, offset);
  }

  /** mmap of a non-ring file; none here. */
  protected long mmapFile(Object file, long length, int prot, int flags, long offset) {
    return -Errnos.ENODEV;
  }

  @Override
  public int munmap(long address, long length) {
    mapped.computeIfPresent(address, (k, v) -> v <= 1 ? null : v - 1);
    return 0;
  }

  /** Ring mappings still in place. */
  public int ringMappings() {
    return mapped.values().stream().mapToInt(Long::intValue).sum();
  }

  @Override
  public int close(int fd) {
    Object f = files.remove(fd);
    if (f == null) {
      return -Errnos.EBADF;
    }
    if (f instanceof Ring r) {
      r.closed = true;
    }
    closed(f);
    return 0;
  }

  /** Called when a file is closed. */
  protected void closed(Object file) {}

  /** Files still open. */
  public int openFiles() {
    return files.size();
  }

  @Override
  public String describe(int errno) {
    String name = Errnos.name(errno);
    return "errno " + errno + (name == null ? "" : " " + name);
  }

  @Override
  public void close() {
    arena.close();
  }
}
