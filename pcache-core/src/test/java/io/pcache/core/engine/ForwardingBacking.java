package io.pcache.core.engine;

import io.pcache.api.BlockIOException;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingIdentity;
import io.pcache.testkit.MemoryBacking;
import java.lang.foreign.MemorySegment;

/**
 * A backing device that passes every call to a {@link MemoryBacking}, for tests that watch or
 * change a few of them (override those). 512-byte logical blocks; {@link #close} does nothing.
 */
abstract class ForwardingBacking implements BackingDevice {

  final MemoryBacking inner;

  ForwardingBacking(long size) {
    this.inner = MemoryBacking.allocate("mem:backing", size);
  }

  @Override
  public String name() {
    return inner.name();
  }

  @Override
  public BackingIdentity identity() {
    return inner.identity();
  }

  @Override
  public long size() {
    return inner.size();
  }

  @Override
  public long currentSize() throws BlockIOException {
    return inner.currentSize();
  }

  @Override
  public int logicalBlockSize() {
    return 512;
  }

  @Override
  public void read(long offset, MemorySegment dst) throws BlockIOException {
    inner.read(offset, dst);
  }

  @Override
  public void write(long offset, MemorySegment src) throws BlockIOException {
    inner.write(offset, src);
  }

  @Override
  public void discard(long offset, long length) throws BlockIOException {
    inner.discard(offset, length);
  }

  @Override
  public void writeZeroes(long offset, long length) throws BlockIOException {
    inner.writeZeroes(offset, length);
  }

  @Override
  public void flush() throws BlockIOException {
    inner.flush();
  }

  @Override
  public void close() {}
}
