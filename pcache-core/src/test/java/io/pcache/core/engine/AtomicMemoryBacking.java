package io.pcache.core.engine;

import io.pcache.api.BlockIOException;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingIdentity;
import io.pcache.testkit.MemoryBacking;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A backing device in memory whose requests are atomic per 1 MiB region (a read never sees half a
 * write there), as a disk is per sector. {@code MemoryBacking} copies without locks, so a read
 * racing a write of the same sector can see it torn, which a test that identifies every sector by
 * its content would report as garbage. Requests lock the regions they touch in order.
 */
final class AtomicMemoryBacking implements BackingDevice {

  private static final int REGION_SHIFT = 20;

  private final String name;
  private final MemorySegment memory;
  private final ReentrantReadWriteLock[] locks;

  AtomicMemoryBacking(String name, MemorySegment memory) {
    this.name = name;
    this.memory = memory;
    this.locks = new ReentrantReadWriteLock[(int) ((memory.byteSize() >> REGION_SHIFT) + 1)];
    for (int i = 0; i < locks.length; i++) {
      locks[i] = new ReentrantReadWriteLock();
    }
  }

  MemorySegment memory() {
    return memory;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public BackingIdentity identity() {
    return MemoryBacking.identityOf(name, memory);
  }

  @Override
  public long size() {
    return memory.byteSize();
  }

  @Override
  public int logicalBlockSize() {
    return 512;
  }

  private void check(long offset, long length) throws BlockIOException {
    BlockIOException.checkRange(name, memory.byteSize(), offset, length);
    if (offset % 512 != 0 || length % 512 != 0) {
      throw new BlockIOException(BlockIOException.Errno.EINVAL, name, offset, length, "not aligned to 512");
    }
  }

  private void lock(long offset, long length, boolean write) {
    for (long r = offset >> REGION_SHIFT; r <= (offset + Math.max(length, 1) - 1) >> REGION_SHIFT; r++) {
      (write ? locks[(int) r].writeLock() : locks[(int) r].readLock()).lock();
    }
  }

  private void unlock(long offset, long length, boolean write) {
    for (long r = offset >> REGION_SHIFT; r <= (offset + Math.max(length, 1) - 1) >> REGION_SHIFT; r++) {
      (write ? locks[(int) r].writeLock() : locks[(int) r].readLock()).unlock();
    }
  }

  @Override
  public void read(long offset, MemorySegment dst) throws BlockIOException {
    check(offset, dst.byteSize());
    lock(offset, dst.byteSize(), false);
    try {
      MemorySegment.copy(memory, offset, dst, 0, dst.byteSize());
    } finally {
      unlock(offset, dst.byteSize(), false);
    }
  }

  @Override
  public void write(long offset, MemorySegment src) throws BlockIOException {
    check(offset, src.byteSize());
    lock(offset, src.byteSize(), true);
    try {
      MemorySegment.copy(src, 0, memory, offset, src.byteSize());
    } finally {
      unlock(offset, src.byteSize(), true);
    }
  }

  @Override
  public void flush() {}

  @Override
  public void discard(long offset, long length) throws BlockIOException {
    check(offset, length);
  }

  @Override
  public void writeZeroes(long offset, long length) throws BlockIOException {
    check(offset, length);
    lock(offset, length, true);
    try {
      memory.asSlice(offset, length).fill((byte) 0);
    } finally {
      unlock(offset, length, true);
    }
  }

  @Override
  public void close() {}
}
