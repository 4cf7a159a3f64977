package io.pcache.testkit;

import io.pcache.api.BlockIOException;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingIdentity;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** A backing device in native memory, for tests. Thread-safe for non-overlapping requests. */
public final class MemoryBacking implements BackingDevice {

  private final String name;
  private final MemorySegment memory;

  public MemoryBacking(String name, MemorySegment memory) {
    this.name = name;
    this.memory = memory;
  }

  public static MemoryBacking allocate(String name, long size) {
    return new MemoryBacking(name, Arena.ofAuto().allocate(size, 4096));
  }

  public MemorySegment memory() {
    return memory;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public long size() {
    return memory.byteSize();
  }

  /** Kind {@code memory}, identified by the memory it lives in (see {@link #identityOf}). */
  @Override
  public BackingIdentity identity() {
    return identityOf(name, memory);
  }

  /**
   * The identity of a test device that lives in {@code memory}: kind {@code memory}, id the
   * memory's address (and, for heap memory, its array), so that every device over the same memory
   * is the same device whatever its name, and devices over different memory are different ones.
   */
  public static BackingIdentity identityOf(String name, MemorySegment memory) {
    String where = memory.heapBase()
        .map(base -> "heap@" + Integer.toHexString(System.identityHashCode(base)) + "+" + memory.address())
        .orElseGet(() -> "0x" + Long.toHexString(memory.address()));
    return new BackingIdentity("memory", where, memory.byteSize(), name);
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

  @Override
  public void read(long offset, MemorySegment dst) throws BlockIOException {
    check(offset, dst.byteSize());
    MemorySegment.copy(memory, offset, dst, 0, dst.byteSize());
  }

  @Override
  public void write(long offset, MemorySegment src) throws BlockIOException {
    check(offset, src.byteSize());
    MemorySegment.copy(src, 0, memory, offset, src.byteSize());
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
    memory.asSlice(offset, length).fill((byte) 0);
  }

  @Override
  public void close() {}
}
