package io.pcache.frontend.nbd;

import io.pcache.api.BlockDevice;
import io.pcache.api.BlockIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A thread-safe {@link BlockDevice} in native memory, for tests: 512-byte sectors, every feature by
 * default, counters for what was called, and a {@link Hook} that runs before each operation (to
 * delay it, hold it, or fail it).
 *
 * <p>Reads, writes and flushes are quick (the {@code try} variants do them) unless a hook is
 * installed: then only those its {@link Hook#quick} accepts, so that a hook that holds a request
 * never runs on the connection's reader.
 */
final class MemoryDevice implements BlockDevice, AutoCloseable {

  /** Runs before each operation; may sleep, wait, or throw. */
  @FunctionalInterface
  interface Hook {
    void before(String op, long offset, long length) throws BlockIOException;

    /** Whether the {@code try} variant may run {@code op} (then {@link #before} runs as well). */
    default boolean quick(String op, long offset, long length) {
      return false;
    }
  }

  private static final Hook NONE = new Hook() {
    @Override
    public void before(String op, long offset, long length) { }

    @Override
    public boolean quick(String op, long offset, long length) {
      return true;
    }
  };

  private final String name;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment memory;
  private final Set<Feature> features;
  private volatile Hook hook = NONE;

  final AtomicLong reads = new AtomicLong();
  final AtomicLong writes = new AtomicLong();
  final AtomicLong fuaWrites = new AtomicLong();
  final AtomicLong flushes = new AtomicLong();
  final AtomicLong discards = new AtomicLong();
  final AtomicLong zeroes = new AtomicLong();
  final AtomicLong fuaZeroes = new AtomicLong();
  final AtomicLong prefetches = new AtomicLong();
  /** Requests the {@code try} variants completed. */
  final AtomicLong quick = new AtomicLong();

  MemoryDevice(String name, long size) {
    this(name, size, EnumSet.allOf(Feature.class));
  }

  MemoryDevice(String name, long size, Set<Feature> features) {
    this.name = name;
    this.memory = arena.allocate(size, 4096);
    this.features = Set.copyOf(features);
  }

  void hook(Hook h) {
    this.hook = h;
  }

  MemorySegment memory() {
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

  @Override
  public int logicalBlockSize() {
    return 512;
  }

  @Override
  public int physicalBlockSize() {
    return 4096;
  }

  @Override
  public Set<Feature> features() {
    return features;
  }

  private void check(String op, long offset, long length) throws BlockIOException {
    BlockIOException.checkRange(name, size(), offset, length);
    if (offset % 512 != 0 || length % 512 != 0) {
      throw new BlockIOException(BlockIOException.Errno.EINVAL, name, offset, length, op + " not aligned to 512");
    }
    hook.before(op, offset, length);
  }

  @Override
  public void read(long offset, MemorySegment dst) throws BlockIOException {
    check("read", offset, dst.byteSize());
    MemorySegment.copy(memory, offset, dst, 0, dst.byteSize());
    reads.incrementAndGet();
  }

  @Override
  public void write(long offset, MemorySegment src, boolean fua) throws BlockIOException {
    check("write", offset, src.byteSize());
    MemorySegment.copy(src, 0, memory, offset, src.byteSize());
    writes.incrementAndGet();
    if (fua) {
      fuaWrites.incrementAndGet();
    }
  }

  @Override
  public void flush() throws BlockIOException {
    hook.before("flush", 0, 0);
    flushes.incrementAndGet();
  }

  @Override
  public boolean tryRead(long offset, MemorySegment dst) throws BlockIOException {
    if (!hook.quick("read", offset, dst.byteSize())) {
      return false;
    }
    read(offset, dst);
    quick.incrementAndGet();
    return true;
  }

  @Override
  public boolean tryWrite(long offset, MemorySegment src, boolean fua) throws BlockIOException {
    if (!hook.quick("write", offset, src.byteSize())) {
      return false;
    }
    write(offset, src, fua);
    quick.incrementAndGet();
    return true;
  }

  @Override
  public boolean tryFlush() throws BlockIOException {
    if (!hook.quick("flush", 0, 0)) {
      return false;
    }
    flush();
    quick.incrementAndGet();
    return true;
  }

  @Override
  public void discard(long offset, long length) throws BlockIOException {
    check("discard", offset, length);
    memory.asSlice(offset, length).fill((byte) 0);
    discards.incrementAndGet();
  }

  @Override
  public void writeZeroes(long offset, long length, boolean fua) throws BlockIOException {
    check("zero", offset, length);
    memory.asSlice(offset, length).fill((byte) 0);
    zeroes.incrementAndGet();
    if (fua) {
      fuaZeroes.incrementAndGet();
    }
  }

  @Override
  public void prefetch(long offset, long length) throws BlockIOException {
    check("prefetch", offset, length);
    prefetches.incrementAndGet();
  }

  @Override
  public void close() {
    arena.close();
  }
}
