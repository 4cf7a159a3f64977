package io.pcache.testkit;

import io.pcache.api.BlockIOException;
import io.pcache.api.BlockIOException.Errno;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingIdentity;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A {@link BackingDevice} wrapper that injects failures and slowness, switchable at run time from
 * any thread, and counts what it saw.
 *
 * <p>For each {@link Op} a failure can be injected
 *
 * <ul>
 *   <li>with a probability ({@link #failWithProbability}),
 *   <li>for the next n calls ({@link #failNext}),
 *   <li>until cleared ({@link #failAlways}),
 *   <li>for requests that overlap a range ({@link #failRange}),
 * </ul>
 *
 * and every call can be delayed ({@link #delay}). An injected failure throws {@link
 * BlockIOException} with {@link Errno#EIO} naming the device, offset and length, without calling
 * the device; with {@link #tearFailedWrites} a failed write first stores garbage over a random
 * part of its range (the contract says a failed write may leave anything behind), and with
 * {@link #scribbleFailedReads} a failed read fills the caller's buffer with garbage.
 *
 * <p>The random source is seeded by the caller and used under a lock, so a single-threaded test
 * is reproducible.
 */
public final class FaultyBacking implements BackingDevice {

  /** The operations faults can be injected into. */
  public enum Op {
    READ, WRITE, WRITE_ZEROES, DISCARD, FLUSH
  }

  private static final class Fault {
    volatile double probability;
    final AtomicLong next = new AtomicLong();
    volatile boolean always;
    volatile long rangeStart;
    volatile long rangeEnd;
    volatile long delayNanos;
    final AtomicLong calls = new AtomicLong();
    final AtomicLong failures = new AtomicLong();
  }

  private final BackingDevice delegate;
  private final SplittableRandom random;
  private final Map<Op, Fault> faults = new EnumMap<>(Op.class);
  private volatile boolean tearFailedWrites;
  private volatile boolean scribbleFailedReads;

  public FaultyBacking(BackingDevice delegate, SplittableRandom random) {
    this.delegate = Objects.requireNonNull(delegate, "delegate");
    this.random = Objects.requireNonNull(random, "random");
    for (Op op : Op.values()) {
      faults.put(op, new Fault());
    }
  }

  /** The wrapped device. */
  public BackingDevice delegate() {
    return delegate;
  }

  /** Fails each {@code op} call with probability {@code p} (0 turns it off). */
  public FaultyBacking failWithProbability(Op op, double p) {
    if (p < 0 || p > 1) {
      throw new IllegalArgumentException("probability " + p + " outside [0, 1]");
    }
    faults.get(op).probability = p;
    return this;
  }

  /** Fails the next {@code n} calls of {@code op}. */
  public FaultyBacking failNext(Op op, long n) {
    faults.get(op).next.set(n);
    return this;
  }

  /** Fails every call of {@code op} until turned off. */
  public FaultyBacking failAlways(Op op, boolean on) {
    faults.get(op).always = on;
    return this;
  }

  /** Fails every call of {@code op} that overlaps {@code [offset, offset + length)}; length 0 turns it off. */
  public FaultyBacking failRange(Op op, long offset, long length) {
    Fault f = faults.get(op);
    f.rangeEnd = 0;
    f.rangeStart = offset;
    f.rangeEnd = offset + length;
    return this;
  }

  /** Delays every call of {@code op} by {@code d} (zero for none). */
  public FaultyBacking delay(Op op, Duration d) {
    faults.get(op).delayNanos = d.toNanos();
    return this;
  }

  /** Whether a failed write first writes garbage over a random part of its range. */
  public FaultyBacking tearFailedWrites(boolean on) {
    tearFailedWrites = on;
    return this;
  }

  /** Whether a failed read first fills the caller's buffer with garbage (a device may leave anything there). */
  public FaultyBacking scribbleFailedReads(boolean on) {
    scribbleFailedReads = on;
    return this;
  }

  /** Turns every fault and delay off (counters stay). */
  public FaultyBacking clearFaults() {
    for (Fault f : faults.values()) {
      f.probability = 0;
      f.next.set(0);
      f.always = false;
      f.rangeEnd = 0;
      f.delayNanos = 0;
    }
    return this;
  }

  /** Calls of {@code op} so far (failed or not). */
  public long calls(Op op) {
    return faults.get(op).calls.get();
  }

  /** Injected failures of {@code op} so far. */
  public long failures(Op op) {
    return faults.get(op).failures.get();
  }

  /** Counters of every operation, for messages. */
  public String counters() {
    StringBuilder b = new StringBuilder();
    for (Op op : Op.values()) {
      b.append(op.name().toLowerCase(java.util.Locale.ROOT)).append('=').append(calls(op)).append('/')
          .append(failures(op)).append("failed ");
    }
    return b.toString().trim();
  }

  private double nextDouble() {
    synchronized (random) {
      return random.nextDouble();
    }
  }

  /** Counts, delays, and decides whether this call fails. */
  private boolean enter(Op op, long offset, long length) {
    Fault f = faults.get(op);
    f.calls.incrementAndGet();
    long d = f.delayNanos;
    if (d > 0) {
      long deadline = System.nanoTime() + d;
      for (long left = d; left > 0; left = deadline - System.nanoTime()) {
        LockSupport.parkNanos(left);
      }
    }
    boolean fail = f.always;
    if (!fail && f.rangeEnd > f.rangeStart) {
      long rs = f.rangeStart;
      long re = f.rangeEnd;
      fail = op == Op.FLUSH || (offset < re && offset + Math.max(1, length) > rs);
    }
    if (!fail && f.next.get() > 0) {
      fail = f.next.getAndUpdate(n -> Math.max(0, n - 1)) > 0;
    }
    if (!fail && f.probability > 0) {
      fail = nextDouble() < f.probability;
    }
    if (fail) {
      f.failures.incrementAndGet();
    }
    return fail;
  }

  private BlockIOException injected(Op op, long offset, long length) {
    return new BlockIOException(Errno.EIO, delegate.name(), offset, length, "injected " + op + " failure");
  }

  @Override
  public String name() {
    return delegate.name();
  }

  /** The wrapped device's identity (never faulty: it is taken once, at start). */
  @Override
  public BackingIdentity identity() {
    return delegate.identity();
  }

  @Override
  public long size() {
    return delegate.size();
  }

  @Override
  public long currentSize() throws BlockIOException {
    return delegate.currentSize();
  }

  @Override
  public int logicalBlockSize() {
    return delegate.logicalBlockSize();
  }

  @Override
  public void read(long offset, MemorySegment dst) throws BlockIOException {
    if (enter(Op.READ, offset, dst.byteSize())) {
      if (scribbleFailedReads && dst.byteSize() > 0) {
        byte[] junk = new byte[(int) Math.min(dst.byteSize(), 1 << 20)];
        synchronized (random) {
          random.nextBytes(junk);
        }
        for (long at = 0; at < dst.byteSize(); at += junk.length) {
          MemorySegment.copy(MemorySegment.ofArray(junk), 0, dst, at, Math.min(junk.length, dst.byteSize() - at));
        }
      }
      throw injected(Op.READ, offset, dst.byteSize());
    }
    delegate.read(offset, dst);
  }

  @Override
  public void write(long offset, MemorySegment src) throws BlockIOException {
    long length = src.byteSize();
    if (enter(Op.WRITE, offset, length)) {
      tear(offset, length);
      throw injected(Op.WRITE, offset, length);
    }
    delegate.write(offset, src);
  }

  @Override
  public void writeZeroes(long offset, long length) throws BlockIOException {
    if (enter(Op.WRITE_ZEROES, offset, length)) {
      tear(offset, length);
      throw injected(Op.WRITE_ZEROES, offset, length);
    }
    delegate.writeZeroes(offset, length);
  }

  /** Stores garbage over a random sector-aligned part of a failed write's range. */
  private void tear(long offset, long length) {
    if (!tearFailedWrites || length < 512) {
      return;
    }
    long sectors = length / 512;
    long from;
    long n;
    byte[] junk;
    synchronized (random) {
      from = random.nextLong(sectors);
      n = 1 + random.nextLong(sectors - from);
      junk = new byte[(int) Math.min(n * 512, 1 << 20)];
      random.nextBytes(junk);
    }
    n = Math.min(n, junk.length / 512);
    try {
      delegate.write(offset + from * 512, MemorySegment.ofArray(junk).asSlice(0, n * 512));
    } catch (BlockIOException e) {
      // garbage that did not land is fine too
    }
  }

  @Override
  public void flush() throws BlockIOException {
    if (enter(Op.FLUSH, 0, 0)) {
      throw injected(Op.FLUSH, 0, 0);
    }
    delegate.flush();
  }

  @Override
  public void discard(long offset, long length) throws BlockIOException {
    if (enter(Op.DISCARD, offset, length)) {
      throw injected(Op.DISCARD, offset, length);
    }
    delegate.discard(offset, length);
  }

  @Override
  public void close() throws IOException {
    delegate.close();
  }
}
