package io.pcache.media.dax;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.PersistenceDomain;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * {@link CacheMedia} on persistent memory: a file on a DAX file system mapped with {@code MAP_SYNC}
 * ({@link Kind#FSDAX}) or a device-dax character device mapped with {@code MAP_SHARED} ({@link
 * Kind#DEVDAX}), whole, in one 64-bit {@link MemorySegment} of a shared {@link Arena}. Opened by
 * {@link FsDaxOpener} and {@link DevDaxOpener}, which explain the refusals.
 *
 * <h2>Guarantees</h2>
 *
 * <ul>
 *   <li>{@link #read} and {@link #write} are one {@link MemorySegment#copy} each: CPU loads and
 *       stores to the persistent memory itself (no page cache in between), no system call.
 *   <li>{@link #persist} writes back the CPU cache lines covering {@code [offset, offset +
 *       length)} (64-byte aligned) and fences, with no system call: on fsdax through {@link
 *       MemorySegment#force()} of the covering slice, which on a {@code READ_WRITE_SYNC} mapping is
 *       the JDK's cache-line write-back ({@code clwb}/{@code clflushopt}/{@code clflush} per line,
 *       then {@code sfence}) instead of {@code msync}; on devdax through {@link CacheLines}, the
 *       same instructions. {@code MAP_SYNC} is what makes this enough on fsdax: the file system
 *       makes the block mapping of a page durable before a write fault to it completes, so no
 *       {@code fsync} is ever needed for metadata. A zero length, and any persist on read-only
 *       media, is a full fence.
 *   <li>The persistence domain is {@link PersistenceDomain#DAX}: what {@code persist} returned
 *       for survives a power cut, on a platform whose persistence domain includes the memory
 *       controller (ADR, the minimum for NVDIMMs) or the CPU caches (eADR).
 *   <li>{@link #close} unmaps (closing the arena), then gives back the lock, the descriptor and the
 *       in-JVM claim, in that order, so that no other open can map the media while this one can
 *       still store to it.
 * </ul>
 *
 * <h2>Implementation notes</h2>
 *
 * See {@link DaxMediaProvider} for the numbers measured in the VM harness and the evidence that no
 * {@code msync} is made.
 */
final class DaxMedia implements CacheMedia {

  /** What the media is. */
  enum Kind {
    /** A file on a DAX-mounted file system, mapped by the JDK with {@code MAP_SYNC}. */
    FSDAX,
    /** A device-dax character device, mapped with {@code mmap(MAP_SHARED)}. */
    DEVDAX
  }

  /** Gives back what an open took besides the mapping (lock, descriptor, claim). */
  @FunctionalInterface
  interface Release {
    void release() throws IOException;
  }

  private final String name;
  private final String where;
  private final Kind kind;
  private final Arena arena;
  private final MemorySegment segment;
  private final long size;
  private final boolean readOnly;
  private final Release release;
  private volatile boolean closed;

  DaxMedia(String name, String where, Kind kind, Arena arena, MemorySegment segment, boolean readOnly,
      Release release) {
    this.name = name;
    this.where = where;
    this.kind = kind;
    this.arena = arena;
    this.segment = readOnly ? segment.asReadOnly() : segment;
    this.size = segment.byteSize();
    this.readOnly = readOnly;
    this.release = release;
  }

  /** {@code dax:} followed by the location as given; usable after close. */
  @Override
  public String name() {
    return name;
  }

  @Override
  public long size() {
    checkOpen();
    return size;
  }

  @Override
  public PersistenceDomain persistenceDomain() {
    checkOpen();
    return PersistenceDomain.DAX;
  }

  /** FSDAX or DEVDAX. */
  Kind kind() {
    return kind;
  }

  @Override
  public void read(long offset, MemorySegment dst) {
    long length = dst.byteSize();
    checkAccess(offset, length);
    try {
      MemorySegment.copy(segment, offset, dst, 0, length);
    } catch (IllegalStateException e) {
      throw closedDuring("read", e);
    }
  }

  /**
   * {@inheritDoc}
   *
   * @throws UnsupportedOperationException when the media was opened read-only
   */
  @Override
  public void write(long offset, MemorySegment src) {
    long length = src.byteSize();
    checkAccess(offset, length);
    if (readOnly) {
      throw new UnsupportedOperationException("cache media " + name + " is open read-only: write at offset "
          + offset + " length " + length + " refused");
    }
    try {
      MemorySegment.copy(src, 0, segment, offset, length);
    } catch (IllegalStateException e) {
      throw closedDuring("write", e);
    }
  }

  @Override
  public void persist(long offset, long length) throws IOException {
    checkAccess(offset, length);
    if (length == 0 || readOnly) {
      VarHandle.fullFence();
      return;
    }
    long start = offset & -CacheLines.LINE;
    long end = Math.min(size, (offset + length + CacheLines.LINE - 1) & -CacheLines.LINE);
    try {
      MemorySegment lines = segment.asSlice(start, end - start);
      if (kind == Kind.FSDAX) {
        lines.force(); // MAP_SYNC mapping: Unsafe.writebackMemory, no msync (see DaxMediaProvider)
      } else {
        CacheLines.writeBack(lines);
      }
    } catch (IllegalStateException e) {
      throw closedDuring("persist", e);
    }
  }

  /** The whole mapping; read-only when the media was opened read-only. */
  @Override
  public MemorySegment mapping() {
    checkOpen();
    return segment;
  }

  @Override
  public void close() throws IOException {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    try {
      closeArena();
    } finally {
      release.release();
    }
  }

  /**
   * Closes the arena. A devdax persist in flight keeps the arena acquired for the microseconds of
   * one native call, and closing then fails: wait for it (new calls fail on {@code closed}), for
   * at most {@value #CLOSE_WAIT_NANOS} ns.
   */
  private void closeArena() throws IOException {
    long deadline = System.nanoTime() + CLOSE_WAIT_NANOS;
    while (true) {
      try {
        arena.close();
        return;
      } catch (IllegalStateException e) {
        if (!arena.scope().isAlive()) {
          return;
        }
        if (System.nanoTime() - deadline > 0) {
          throw new IOException("cannot unmap cache media " + name + ": its mapping is still in use by a"
              + " native call after " + CLOSE_WAIT_NANOS / 1_000_000 + " ms", e);
        }
        Thread.onSpinWait();
      }
    }
  }

  /** How long {@link #close} waits for native calls on the mapping to end: 5 s. */
  static final long CLOSE_WAIT_NANOS = 5_000_000_000L;

  @Override
  public String toString() {
    return name + " (" + size + " bytes, " + kind + " " + where + (readOnly ? ", read-only" : "")
        + (closed ? ", closed" : "") + ")";
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("cache media " + name + " is closed");
    }
  }

  private void checkAccess(long offset, long length) {
    checkOpen();
    if (offset < 0 || length < 0 || offset > size - length) {
      throw new IndexOutOfBoundsException("cache media " + name + ": access at offset " + offset + " length "
          + length + " is outside the media's " + size + " bytes");
    }
  }

  private RuntimeException closedDuring(String operation, IllegalStateException e) {
    if (!closed) {
      return e; // not ours: the caller's segment was closed or is confined to another thread
    }
    return new IllegalStateException("cache media " + name + " was closed during " + operation, e);
  }
}
