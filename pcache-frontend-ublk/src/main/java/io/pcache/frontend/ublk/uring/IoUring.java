package io.pcache.frontend.ublk.uring;

import static io.pcache.frontend.ublk.uring.UringLayout.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One io_uring instance: the submission queue (SQ), the completion queue (CQ) and the SQE array,
 * mapped from the kernel, with the producer side of the SQ and the consumer side of the CQ.
 *
 * <p><b>Threading.</b> Not thread-safe: one thread owns a ring, prepares SQEs, submits and reaps
 * completions. (Kernel features such as ublk's "daemon" rule want exactly that anyway.)
 *
 * <h2>Implementation notes</h2>
 *
 * <p>The rings are shared memory with the kernel, which reads our SQ tail and CQ head and writes
 * the SQ head and CQ tail. As in liburing, the tail we publish is written with release semantics
 * (the SQEs written before it are visible to the kernel once it sees the tail), and the CQ tail is
 * read with acquire semantics (the CQEs are visible once the tail is); the CQ head is released
 * after the CQEs were copied out, so the kernel never overwrites an entry still being read. The
 * same ordering works against a fake kernel in tests, whose threads use the same VarHandles.
 *
 * <p>The SQ indirection array is filled once with the identity ({@code array[i] = i}), so the SQE
 * for tail {@code t} is always slot {@code t & mask}. Head and tail are free-running 32-bit
 * counters: {@code tail - head} is the fill level even after they wrap past {@code 2^32}.
 *
 * <p>{@code to_submit} is always "everything published and not yet consumed" ({@code tail -
 * kernel head}), so SQEs the kernel left behind (it stops at the first SQE it cannot allocate)
 * are submitted again by the next call instead of being forgotten.
 */
public final class IoUring implements AutoCloseable {

  /** {@code int} access with a {@code (MemorySegment, long offset)} coordinate pair. */
  private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

  private final UringSyscalls sys;
  private final Arena arena = Arena.ofShared();
  private final int fd;
  private final int setupFlags;
  private final int features;
  private final int sqEntries;
  private final int cqEntries;
  private final int sqMask;
  private final int cqMask;
  private final int sqeSize;
  private final int cqeSize;
  private final long sqHead;
  private final long sqTail;
  private final long sqFlags;
  private final long cqHead;
  private final long cqTail;
  private final long cqes;
  private final Mapping sqRingMap;
  private final Mapping cqRingMap;
  private final Mapping sqesMap;
  private final MemorySegment sqRing;
  private final MemorySegment cqRing;
  private final MemorySegment sqeArray;
  /** struct io_uring_getevents_arg followed by struct __kernel_timespec. */
  private final MemorySegment extArg;
  /** The next SQE to hand out; published to the kernel by {@link #flush()}. */
  private int sqeTail;
  private boolean closed;

  private record Mapping(long address, long length) {}

  private IoUring(UringSyscalls sys, int fd, MemorySegment params, int setupFlags) throws UringException {
    this.sys = sys;
    this.fd = fd;
    this.setupFlags = setupFlags;
    this.features = params.get(ValueLayout.JAVA_INT, PARAMS_FEATURES);
    this.sqEntries = params.get(ValueLayout.JAVA_INT, PARAMS_SQ_ENTRIES);
    this.cqEntries = params.get(ValueLayout.JAVA_INT, PARAMS_CQ_ENTRIES);
    this.sqeSize = (setupFlags & IORING_SETUP_SQE128) != 0 ? SQE128_SIZE : SQE_SIZE;
    this.cqeSize = (setupFlags & IORING_SETUP_CQE32) != 0 ? CQE32_SIZE : CQE_SIZE;
    int sq = PARAMS_SQ_OFF;
    int cq = PARAMS_CQ_OFF;
    this.sqHead = Integer.toUnsignedLong(params.get(ValueLayout.JAVA_INT, sq + SQOFF_HEAD));
    this.sqTail = Integer.toUnsignedLong(params.get(ValueLayout.JAVA_INT, sq + SQOFF_TAIL));
    this.sqFlags = Integer.toUnsignedLong(params.get(ValueLayout.JAVA_INT, sq + SQOFF_FLAGS));
    long sqMaskOff = Integer.toUnsignedLong(params.get(ValueLayout.JAVA_INT, sq + SQOFF_RING_MASK));
    long sqArray = Integer.toUnsignedLong(params.get(ValueLayout.JAVA_INT, sq + SQOFF_ARRAY));
    this.cqHead = Integer.toUnsignedLong(params.get(ValueLayout.JAVA_INT, cq + CQOFF_HEAD));
    this.cqTail = Integer.toUnsignedLong(params.get(ValueLayout.JAVA_INT, cq + CQOFF_TAIL));
    long cqMaskOff = Integer.toUnsignedLong(params.get(ValueLayout.JAVA_INT, cq + CQOFF_RING_MASK));
    this.cqes = Integer.toUnsignedLong(params.get(ValueLayout.JAVA_INT, cq + CQOFF_CQES));

    long sqRingSize = sqArray + 4L * sqEntries;
    long cqRingSize = cqes + (long) cqeSize * cqEntries;
    Mapping sqMap = null;
    Mapping cqMap = null;
    Mapping sqesM = null;
    try {
      if ((features & IORING_FEAT_SINGLE_MMAP) != 0) {
        sqMap = map(Math.max(sqRingSize, cqRingSize), IORING_OFF_SQ_RING, "SQ/CQ rings");
        cqMap = sqMap;
      } else {
        sqMap = map(sqRingSize, IORING_OFF_SQ_RING, "SQ ring");
        cqMap = map(cqRingSize, IORING_OFF_CQ_RING, "CQ ring");
      }
      sqesM = map((long) sqeSize * sqEntries, IORING_OFF_SQES, "SQE array");
    } catch (UringException e) {
      for (Mapping m : new Mapping[] {sqesM, cqMap == sqMap ? null : cqMap, sqMap}) {
        if (m != null) {
          sys.munmap(m.address, m.length);
        }
      }
      throw e;
    }
    this.sqRingMap = sqMap;
    this.cqRingMap = cqMap;
    this.sqesMap = sqesM;
    this.sqRing = MemorySegment.ofAddress(sqMap.address).reinterpret(sqMap.length);
    this.cqRing = MemorySegment.ofAddress(cqMap.address).reinterpret(cqMap.length);
    this.sqeArray = MemorySegment.ofAddress(sqesM.address).reinterpret(sqesM.length);
    this.sqMask = sqRing.get(ValueLayout.JAVA_INT, sqMaskOff);
    this.cqMask = cqRing.get(ValueLayout.JAVA_INT, cqMaskOff);
    for (int i = 0; i < sqEntries; i++) {
      sqRing.set(ValueLayout.JAVA_INT, sqArray + 4L * i, i);
    }
    this.sqeTail = (int) INT.getAcquire(sqRing, sqTail);
    this.extArg = arena.allocate(GETEVENTS_ARG_SIZE + TIMESPEC_SIZE, 8);
  }

  private Mapping map(long length, long offset, String what) throws UringException {
    long address = sys.mmap(length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, offset);
    if (address < 0 && address > -4096) {
      throw new UringException("mmap of the io_uring " + what + " (" + length + " bytes)", (int) -address, sys);
    }
    return new Mapping(address, length);
  }

  /**
   * Creates a ring.
   *
   * @param entries SQ entries (the kernel rounds up to a power of two)
   * @param flags {@code IORING_SETUP_*} flags, for example {@link UringLayout#IORING_SETUP_SQE128}
   * @param cqEntries CQ entries, or 0 for the kernel's default (twice the SQ)
   */
  public static IoUring create(UringSyscalls sys, int entries, int flags, int cqEntries) throws UringException {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment params = a.allocate(PARAMS_SIZE, 8);
      int f = flags | (cqEntries > 0 ? IORING_SETUP_CQSIZE : 0);
      params.set(ValueLayout.JAVA_INT, PARAMS_FLAGS, f);
      params.set(ValueLayout.JAVA_INT, PARAMS_CQ_ENTRIES, cqEntries);
      int fd = sys.setup(entries, params);
      if (fd < 0) {
        throw new UringException("io_uring_setup(" + entries + " entries, flags 0x" + Integer.toHexString(f) + ")",
            -fd, sys);
      }
      try {
        return new IoUring(sys, fd, params, f);
      } catch (UringException | RuntimeException e) {
        sys.close(fd);
        throw e;
      }
    }
  }

  /** The ring's file descriptor. */
  public int fd() {
    return fd;
  }

  /** SQ entries, as granted by the kernel. */
  public int sqEntries() {
    return sqEntries;
  }

  /** CQ entries, as granted by the kernel. */
  public int cqEntries() {
    return cqEntries;
  }

  /** {@code IORING_FEAT_*} bits the kernel reported. */
  public int features() {
    return features;
  }

  /** Bytes per SQE: 64, or 128 with {@link UringLayout#IORING_SETUP_SQE128}. */
  public int sqeSize() {
    return sqeSize;
  }

  /** SQEs handed out by {@link #nextSqe()} and not yet consumed by the kernel. */
  public int pending() {
    return sqeTail - (int) INT.getAcquire(sqRing, sqHead);
  }

  /** Free SQ slots. */
  public int sqSpace() {
    return sqEntries - pending();
  }

  /**
   * The next free SQE, zeroed, or null when the SQ is full (submit, then ask again). The entry
   * belongs to the kernel once submitted: do not keep the segment.
   */
  public MemorySegment nextSqe() {
    int head = (int) INT.getAcquire(sqRing, sqHead);
    if (sqeTail - head >= sqEntries) {
      return null;
    }
    MemorySegment sqe = sqeArray.asSlice((long) (sqeTail & sqMask) * sqeSize, sqeSize);
    sqe.fill((byte) 0);
    sqeTail++;
    return sqe;
  }

  /** Publishes the SQEs handed out so far; returns how many the kernel has yet to consume. */
  private int flush() {
    INT.setRelease(sqRing, sqTail, sqeTail);
    return sqeTail - (int) INT.getAcquire(sqRing, sqHead);
  }

  /**
   * Submits every prepared SQE without waiting: the number the kernel consumed.
   *
   * @throws UringException when {@code io_uring_enter} fails
   */
  public int submit() throws UringException {
    int n = flush();
    if (n == 0) {
      return 0;
    }
    return enter(n, 0, 0, MemorySegment.NULL, 0);
  }

  /**
   * Submits every prepared SQE and waits until at least {@code waitNr} completions are ready
   * (retrying on EINTR). Returns the number consumed.
   */
  public int submitAndWait(int waitNr) throws UringException {
    return enter(flush(), waitNr, IORING_ENTER_GETEVENTS, MemorySegment.NULL, 0);
  }

  /**
   * Submits every prepared SQE, then waits at most {@code timeoutNanos} for {@code waitNr}
   * completions. Returns false on timeout. Needs {@link UringLayout#IORING_FEAT_EXT_ARG} (5.11);
   * without it, waits without a time limit.
   */
  public boolean submitAndWait(int waitNr, long timeoutNanos) throws UringException {
    submit();
    if ((features & IORING_FEAT_EXT_ARG) == 0) {
      enter(0, waitNr, IORING_ENTER_GETEVENTS, MemorySegment.NULL, 0);
      return true;
    }
    if (ready() >= waitNr) {
      return true;
    }
    extArg.fill((byte) 0);
    MemorySegment ts = extArg.asSlice(GETEVENTS_ARG_SIZE, TIMESPEC_SIZE);
    ts.set(ValueLayout.JAVA_LONG, 0, timeoutNanos / 1_000_000_000L);
    ts.set(ValueLayout.JAVA_LONG, 8, timeoutNanos % 1_000_000_000L);
    extArg.set(ValueLayout.JAVA_LONG, GETEVENTS_ARG_TS, ts.address());
    int r = sys.enter(fd, 0, waitNr, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, extArg, GETEVENTS_ARG_SIZE);
    if (r == -Errnos.ETIME || r == -Errnos.EINTR) {
      return ready() >= waitNr;
    }
    if (r < 0) {
      throw new UringException("io_uring_enter(wait " + waitNr + ", timeout " + timeoutNanos + " ns)", -r, sys);
    }
    return true;
  }

  private int enter(int toSubmit, int waitNr, int flags, MemorySegment arg, long argSize) throws UringException {
    while (true) {
      int r = sys.enter(fd, toSubmit, waitNr, flags, arg, argSize);
      if (r >= 0) {
        return r;
      }
      if (r == -Errnos.EINTR) {
        toSubmit = pending();
        continue;
      }
      if (r == -Errnos.EBUSY || r == -Errnos.EAGAIN) {
        // CQ overflow backlog or no memory for requests: the caller reaps completions and retries.
        return 0;
      }
      throw new UringException("io_uring_enter(submit " + toSubmit + ", wait " + waitNr + ")", -r, sys);
    }
  }

  /** Completions ready to be reaped. */
  public int ready() {
    return (int) INT.getAcquire(cqRing, cqTail) - (int) INT.get(cqRing, cqHead);
  }

  /** Whether the kernel holds completions that did not fit in the CQ (reap, then enter with GETEVENTS). */
  public boolean cqOverflowed() {
    return ((int) INT.getAcquire(sqRing, sqFlags) & IORING_SQ_CQ_OVERFLOW) != 0;
  }

  /**
   * Hands every ready CQE to {@code handler}, in order, and frees their slots. Returns how many.
   * If the handler throws, the entries before the failing one (and the failing one) are consumed.
   */
  public int drainCompletions(CompletionHandler handler) {
    int head = (int) INT.get(cqRing, cqHead);
    int tail = (int) INT.getAcquire(cqRing, cqTail);
    int n = 0;
    try {
      while (head != tail) {
        long off = cqes + (long) (head & cqMask) * cqeSize;
        long userData = cqRing.get(ValueLayout.JAVA_LONG_UNALIGNED, off + CQE_USER_DATA);
        int res = cqRing.get(ValueLayout.JAVA_INT_UNALIGNED, off + CQE_RES);
        int flags = cqRing.get(ValueLayout.JAVA_INT_UNALIGNED, off + CQE_FLAGS);
        head++;
        n++;
        handler.completion(userData, res, flags);
      }
    } finally {
      INT.setRelease(cqRing, cqHead, head);
    }
    return n;
  }

  /** Unmaps the rings and closes the descriptor (the kernel cancels what is still in flight). Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    sys.munmap(sqesMap.address, sqesMap.length);
    if (cqRingMap != sqRingMap) {
      sys.munmap(cqRingMap.address, cqRingMap.length);
    }
    sys.munmap(sqRingMap.address, sqRingMap.length);
    sys.close(fd);
    arena.close();
  }

  @Override
  public String toString() {
    return "io_uring[fd " + fd + ", " + sqEntries + "/" + cqEntries + " entries, flags 0x"
        + Integer.toHexString(setupFlags) + ", features 0x" + Integer.toHexString(features) + "]";
  }
}
