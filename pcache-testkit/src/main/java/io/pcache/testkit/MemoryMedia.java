package io.pcache.testkit;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.PersistenceDomain;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Cache media in native memory, for tests: volatile, {@code persist} is a no-op fence. Several
 * opens may share one {@link MemorySegment} to simulate a restart ({@link #reopen}).
 */
public final class MemoryMedia implements CacheMedia {

  private final String name;
  private final MemorySegment memory;
  private volatile boolean closed;

  public MemoryMedia(String name, MemorySegment memory) {
    this.name = Objects.requireNonNull(name);
    this.memory = memory;
  }

  /** New zeroed media of {@code size} bytes (in an auto arena, freed when unreachable). */
  public static MemoryMedia allocate(String name, long size) {
    return new MemoryMedia(name, NativeMemory.allocate(size, 4096));
  }

  /** Another open of the same memory, as after a restart of the process. */
  public MemoryMedia reopen() {
    return new MemoryMedia(name, memory);
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

  @Override
  public PersistenceDomain persistenceDomain() {
    return PersistenceDomain.VOLATILE;
  }

  private void check(long offset, long length) {
    if (closed) {
      throw new IllegalStateException(name + " is closed");
    }
    if (offset < 0 || length < 0 || offset > memory.byteSize() - length) {
      throw new IndexOutOfBoundsException(name + ": offset " + offset + " length " + length + " outside "
          + memory.byteSize() + " bytes");
    }
  }

  @Override
  public void read(long offset, MemorySegment dst) {
    check(offset, dst.byteSize());
    MemorySegment.copy(memory, offset, dst, 0, dst.byteSize());
  }

  @Override
  public void write(long offset, MemorySegment src) {
    check(offset, src.byteSize());
    MemorySegment.copy(src, 0, memory, offset, src.byteSize());
  }

  @Override
  public void persist(long offset, long length) {
    check(offset, length);
    java.lang.invoke.VarHandle.fullFence();
  }

  @Override
  public MemorySegment mapping() {
    return memory;
  }

  @Override
  public void close() {
    closed = true;
  }
}
