package io.pcache.core.metrics;

import io.pcache.api.BlockDevice;
import io.pcache.api.BlockIOException;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Set;

/**
 * The {@link BlockDevice} handed to the front-end: the cache, with every request counted and timed
 * at the boundary the front-end sees. Completed requests go into a latency histogram per
 * operation, with their bytes; failed ones (any exception) are counted as errors and rethrown
 * unchanged.
 *
 * <p>Cost per request: two {@link System#nanoTime()} calls and three {@link
 * java.util.concurrent.atomic.LongAdder} adds, no lock: 160 to 230 ns on the build VM, about 0.3 %
 * of an NBD request. See {@link LatencyHistogram} for the measurement.
 */
public final class MeteredBlockDevice implements BlockDevice {

  private final BlockDevice device;
  final OpMeter reads = new OpMeter("read");
  final OpMeter writes = new OpMeter("write");
  final OpMeter flushes = new OpMeter("flush");
  final OpMeter discards = new OpMeter("discard");
  final OpMeter zeroes = new OpMeter("write_zeroes");
  final OpMeter prefetches = new OpMeter("prefetch");

  public MeteredBlockDevice(BlockDevice device) {
    this.device = device;
  }

  /** Every operation's meter, in a stable order. */
  public List<OpMeter> meters() {
    return List.of(reads, writes, flushes, discards, zeroes, prefetches);
  }

  /** The device being metered. */
  public BlockDevice delegate() {
    return device;
  }

  @Override
  public String name() {
    return device.name();
  }

  @Override
  public long size() {
    return device.size();
  }

  @Override
  public int logicalBlockSize() {
    return device.logicalBlockSize();
  }

  @Override
  public int physicalBlockSize() {
    return device.physicalBlockSize();
  }

  @Override
  public Set<Feature> features() {
    return device.features();
  }

  @Override
  public void read(long offset, MemorySegment dst) throws BlockIOException {
    long t0 = System.nanoTime();
    try {
      device.read(offset, dst);
    } catch (BlockIOException | RuntimeException | Error e) {
      reads.failed();
      throw e;
    }
    reads.done(t0, dst.byteSize());
  }

  @Override
  public void write(long offset, MemorySegment src, boolean fua) throws BlockIOException {
    long t0 = System.nanoTime();
    try {
      device.write(offset, src, fua);
    } catch (BlockIOException | RuntimeException | Error e) {
      writes.failed();
      throw e;
    }
    writes.done(t0, src.byteSize());
  }

  @Override
  public void flush() throws BlockIOException {
    long t0 = System.nanoTime();
    try {
      device.flush();
    } catch (BlockIOException | RuntimeException | Error e) {
      flushes.failed();
      throw e;
    }
    flushes.done(t0, 0);
  }

  @Override
  public void discard(long offset, long length) throws BlockIOException {
    long t0 = System.nanoTime();
    try {
      device.discard(offset, length);
    } catch (BlockIOException | RuntimeException | Error e) {
      discards.failed();
      throw e;
    }
    discards.done(t0, length);
  }

  @Override
  public void writeZeroes(long offset, long length, boolean fua) throws BlockIOException {
    long t0 = System.nanoTime();
    try {
      device.writeZeroes(offset, length, fua);
    } catch (BlockIOException | RuntimeException | Error e) {
      zeroes.failed();
      throw e;
    }
    zeroes.done(t0, length);
  }

  @Override
  public void prefetch(long offset, long length) throws BlockIOException {
    long t0 = System.nanoTime();
    try {
      device.prefetch(offset, length);
    } catch (BlockIOException | RuntimeException | Error e) {
      prefetches.failed();
      throw e;
    }
    prefetches.done(t0, length);
  }

  // The try variants are metered when they succeed; a declined attempt is not counted, since the
  // caller then makes the blocking call, which is (so each request counts once).

  @Override
  public boolean tryRead(long offset, MemorySegment dst) throws BlockIOException {
    long t0 = System.nanoTime();
    boolean done;
    try {
      done = device.tryRead(offset, dst);
    } catch (BlockIOException | RuntimeException | Error e) {
      reads.failed();
      throw e;
    }
    if (done) {
      reads.done(t0, dst.byteSize());
    }
    return done;
  }

  @Override
  public boolean tryWrite(long offset, MemorySegment src, boolean fua) throws BlockIOException {
    long t0 = System.nanoTime();
    boolean done;
    try {
      done = device.tryWrite(offset, src, fua);
    } catch (BlockIOException | RuntimeException | Error e) {
      writes.failed();
      throw e;
    }
    if (done) {
      writes.done(t0, src.byteSize());
    }
    return done;
  }

  @Override
  public boolean tryFlush() throws BlockIOException {
    long t0 = System.nanoTime();
    boolean done;
    try {
      done = device.tryFlush();
    } catch (BlockIOException | RuntimeException | Error e) {
      flushes.failed();
      throw e;
    }
    if (done) {
      flushes.done(t0, 0);
    }
    return done;
  }
}
