package io.pcache.core.metrics;

import io.pcache.api.BlockIOException;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingIdentity;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A {@link BackingDevice} whose operations are counted and timed: what writeback, misses and
 * flushes cost on the slow device, and how often it fails. Same rules as {@link
 * MeteredBlockDevice}; backing operations take micro- to milliseconds, so timing them is free in
 * comparison.
 */
public final class MeteredBackingDevice implements BackingDevice {

  private final BackingDevice device;
  final OpMeter reads = new OpMeter("read");
  final OpMeter writes = new OpMeter("write");
  final OpMeter flushes = new OpMeter("flush");
  final OpMeter discards = new OpMeter("discard");
  final OpMeter zeroes = new OpMeter("write_zeroes");

  public MeteredBackingDevice(BackingDevice device) {
    this.device = device;
  }

  /** Every operation's meter, in a stable order. */
  public List<OpMeter> meters() {
    return List.of(reads, writes, flushes, discards, zeroes);
  }

  /** Failed operations of every kind. */
  public long errors() {
    long n = 0;
    for (OpMeter m : meters()) {
      n += m.errors();
    }
    return n;
  }

  @Override
  public String name() {
    return device.name();
  }

  /** The metered device's identity. */
  @Override
  public BackingIdentity identity() {
    return device.identity();
  }

  @Override
  public long size() {
    return device.size();
  }

  @Override
  public long currentSize() throws BlockIOException {
    return device.currentSize();
  }

  @Override
  public int logicalBlockSize() {
    return device.logicalBlockSize();
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
  public void write(long offset, MemorySegment src) throws BlockIOException {
    long t0 = System.nanoTime();
    try {
      device.write(offset, src);
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
  public void writeZeroes(long offset, long length) throws BlockIOException {
    long t0 = System.nanoTime();
    try {
      device.writeZeroes(offset, length);
    } catch (BlockIOException | RuntimeException | Error e) {
      zeroes.failed();
      throw e;
    }
    zeroes.done(t0, length);
  }

  @Override
  public void close() throws IOException {
    device.close();
  }
}
