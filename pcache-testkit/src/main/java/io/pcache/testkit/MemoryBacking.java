package io.pcache.testkit;

import io.pcache.api.BlockIOException;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingIdentity;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A backing device in native memory, for tests. Thread-safe for non-overlapping requests.
 *
 * <p>{@link #resize} changes its {@link #currentSize()} as {@code truncate -s} changes an image
 * file under a running pcache, and from then on it behaves as such a file does: a write or
 * write-zeroes that ends past the current size extends it (the file grows again, with zeroes where
 * the truncation dropped data), a read past it fails with {@link BlockIOException.Errno#EIO} (a
 * short {@code pread}), a discard there changes nothing. {@link #size()} stays the size at
 * allocation.
 */
public final class MemoryBacking implements BackingDevice {

  private final String name;
  private final MemorySegment memory;
  private final AtomicLong currentSize;

  public MemoryBacking(String name, MemorySegment memory) {
    this.name = name;
    this.memory = memory;
    this.currentSize = new AtomicLong(memory.byteSize());
  }

  public static MemoryBacking allocate(String name, long size) {
    return new MemoryBacking(name, NativeMemory.allocate(size, 4096));
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
  public long currentSize() {
    return currentSize.get();
  }

  /**
   * Resizes the device behind its user's back (see the class notes). Shrinking zeroes what lies
   * past {@code bytes}; growing (up to {@link #size()}) brings back zeroes.
   *
   * @param bytes the new size, a multiple of 512 between 0 and {@link #size()}
   */
  public void resize(long bytes) {
    if (bytes < 0 || bytes > memory.byteSize() || bytes % 512 != 0) {
      throw new IllegalArgumentException(name + ": cannot resize to " + bytes + " bytes (0.." + memory.byteSize()
          + ", whole 512-byte blocks)");
    }
    long before = currentSize.getAndSet(bytes);
    if (bytes < before) {
      memory.asSlice(bytes, before - bytes).fill((byte) 0);
    }
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
    if (offset + dst.byteSize() > currentSize.get()) {
      throw new BlockIOException(BlockIOException.Errno.EIO, name, offset, dst.byteSize(),
          "read past the end: the device was resized to " + currentSize.get() + " bytes");
    }
    MemorySegment.copy(memory, offset, dst, 0, dst.byteSize());
  }

  @Override
  public void write(long offset, MemorySegment src) throws BlockIOException {
    check(offset, src.byteSize());
    MemorySegment.copy(src, 0, memory, offset, src.byteSize());
    extendTo(offset, src.byteSize());
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
    extendTo(offset, length);
  }

  @Override
  public void close() {}

  /** A write that ends past the current size extends it, as on a file (one read when it does not). */
  private void extendTo(long offset, long length) {
    long end = offset + length;
    if (length > 0 && end > currentSize.get()) {
      currentSize.accumulateAndGet(end, Math::max);
    }
  }
}
