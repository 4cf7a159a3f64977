package io.pcache.example;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.PersistenceDomain;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@link CacheMedia} over a native memory segment; see {@link MemMediaProvider} for the
 * locations. Follows the {@link CacheMedia} contract: out-of-range accesses throw {@link
 * IndexOutOfBoundsException} naming the media, offset and length; every method but {@link
 * #close()} throws {@link IllegalStateException} once closed.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>Reads and writes are {@link MemorySegment#copy} calls. Within one process every store is
 * visible to later loads, and nothing survives the process, so {@link #persist} is a full fence
 * (the ordering half of dm-pcache's {@code pmem_wmb}) after the bounds check: persistence domain
 * {@link PersistenceDomain#VOLATILE}.
 *
 * <p>An anonymous media owns its arena and closes it in {@link #close()}, freeing the memory. A
 * named media gives its memory back to its {@link NamedMemory}, which moves the bytes to a new
 * arena and closes the old one. In both cases a segment obtained from {@link #mapping()} fails
 * with {@link IllegalStateException} after close instead of reaching memory the media no longer
 * owns.
 */
final class MemCacheMedia implements CacheMedia {

  private final String name;
  private final MemorySegment memory;
  private final Release release;
  private final boolean readOnly;
  private final AtomicBoolean closed = new AtomicBoolean();

  /** What closing the media does with its memory: free it, or hand it back to its name. */
  @FunctionalInterface
  interface Release {
    void release() throws IOException;
  }

  /**
   * @param release called once, by the first {@link #close()}; it must make {@code memory}
   *     unusable (close its arena)
   */
  MemCacheMedia(String name, MemorySegment memory, Release release, boolean readOnly) {
    this.name = name;
    this.memory = memory;
    this.release = release;
    this.readOnly = readOnly;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public long size() {
    ensureOpen();
    return memory.byteSize();
  }

  @Override
  public PersistenceDomain persistenceDomain() {
    ensureOpen();
    return PersistenceDomain.VOLATILE;
  }

  @Override
  public void read(long offset, MemorySegment dst) {
    ensureOpen();
    checkRange(offset, dst.byteSize());
    MemorySegment.copy(memory, offset, dst, 0, dst.byteSize());
  }

  @Override
  public void write(long offset, MemorySegment src) {
    ensureOpen();
    checkRange(offset, src.byteSize());
    if (readOnly) {
      throw new UnsupportedOperationException(name + ": opened read-only; refusing a write at offset "
          + offset + " length " + src.byteSize());
    }
    MemorySegment.copy(src, 0, memory, offset, src.byteSize());
  }

  @Override
  public void persist(long offset, long length) {
    ensureOpen();
    checkRange(offset, length);
    VarHandle.fullFence();
  }

  /** The whole memory (read-only when opened read-only). */
  @Override
  public MemorySegment mapping() {
    ensureOpen();
    return readOnly ? memory.asReadOnly() : memory;
  }

  /**
   * Frees anonymous memory, or hands named memory back to its name (bytes kept). Either way,
   * segments obtained from {@link #mapping()} become unusable. Idempotent.
   *
   * @throws IOException when named memory could not be moved (see {@link NamedMemory#release()})
   */
  @Override
  public void close() throws IOException {
    if (closed.compareAndSet(false, true)) {
      release.release();
    }
  }

  @Override
  public String toString() {
    return name + (closed.get() ? " (closed)" : "");
  }

  private void ensureOpen() {
    if (closed.get()) {
      throw new IllegalStateException(name + " is closed");
    }
  }

  private void checkRange(long offset, long length) {
    long size = memory.byteSize();
    if (offset < 0 || length < 0 || offset > size || length > size - offset) {
      throw new IndexOutOfBoundsException(name + ": access at offset " + offset + " length " + length
          + " lies outside the media's " + size + " bytes");
    }
  }
}
