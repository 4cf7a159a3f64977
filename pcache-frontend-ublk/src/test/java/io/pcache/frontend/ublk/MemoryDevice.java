package io.pcache.frontend.ublk;

import io.pcache.api.BlockDevice;
import io.pcache.api.BlockIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A thread-safe {@link BlockDevice} in native memory for tests: every feature by default, a log of
 * the calls ("write 4096+512 fua"), and a {@link Hook} run before each call (to hold or fail it).
 */
final class MemoryDevice implements BlockDevice, AutoCloseable {

  /** Runs before each operation; may wait or throw. */
  @FunctionalInterface
  interface Hook {
    void before(String op, long offset, long length) throws BlockIOException;
  }

  private final Arena arena = Arena.ofShared();
  private final MemorySegment memory;
  private final Set<Feature> features;
  private volatile Hook hook = (op, offset, length) -> { };
  final List<String> calls = new CopyOnWriteArrayList<>();

  MemoryDevice(long size) {
    this(size, EnumSet.allOf(Feature.class));
  }

  MemoryDevice(long size, Set<Feature> features) {
    this.memory = arena.allocate(size, 4096);
    this.features = Set.copyOf(features);
  }

  void hook(Hook h) {
    hook = h;
  }

  MemorySegment memory() {
    return memory;
  }

  @Override
  public String name() {
    return "mem";
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

  private void before(String op, long offset, long length) throws BlockIOException {
    calls.add(op + " " + offset + "+" + length);
    hook.before(op, offset, length);
    BlockIOException.checkRange(name(), size(), offset, length);
  }

  @Override
  public void read(long offset, MemorySegment dst) throws BlockIOException {
    before("read", offset, dst.byteSize());
    dst.copyFrom(memory.asSlice(offset, dst.byteSize()));
  }

  @Override
  public void write(long offset, MemorySegment src, boolean fua) throws BlockIOException {
    before(fua ? "write-fua" : "write", offset, src.byteSize());
    memory.asSlice(offset, src.byteSize()).copyFrom(src);
  }

  @Override
  public void flush() throws BlockIOException {
    calls.add("flush");
    hook.before("flush", 0, 0);
  }

  @Override
  public void discard(long offset, long length) throws BlockIOException {
    before("discard", offset, length);
    memory.asSlice(offset, length).fill((byte) 0);
  }

  @Override
  public void writeZeroes(long offset, long length, boolean fua) throws BlockIOException {
    before(fua ? "zeroes-fua" : "zeroes", offset, length);
    memory.asSlice(offset, length).fill((byte) 0);
  }

  @Override
  public void close() {
    arena.close();
  }
}
