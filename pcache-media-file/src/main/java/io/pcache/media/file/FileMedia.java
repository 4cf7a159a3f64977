package io.pcache.media.file;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.PersistenceDomain;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;

/**
 * {@link CacheMedia} on a regular file, mapped whole into one 64-bit {@link MemorySegment} of a
 * shared {@link Arena}. Opened by {@link FileMediaOpener}, which explains the refusals.
 *
 * <h2>Guarantees</h2>
 *
 * <ul>
 *   <li>{@link #read} and {@link #write} are one {@link MemorySegment#copy} each: no allocation,
 *       no lock, no system call. Stores are visible to every thread at once (same mapping).
 *   <li>{@link #persist} on {@link PersistenceDomain#PAGE_CACHE} calls {@code msync(MS_SYNC)} on
 *       the page-aligned range covering {@code [offset, offset + length)} (through {@link
 *       MemorySegment#force()} of that slice): when it returns, the range is on the device as far
 *       as the file system guarantees {@code msync}. On {@link PersistenceDomain#VOLATILE}
 *       (tmpfs, ramfs, hugetlbfs) there is nothing to write back, and {@code persist} is a full
 *       fence only. A zero length is a full fence on both.
 *   <li>The file is locked ({@code fcntl}, exclusive; shared when read-only) for as long as it is
 *       mapped, and claimed in this JVM ({@link HeldFiles}).
 *   <li>{@link #close} unmaps (closing the arena), then releases the lock, closes the channel and
 *       gives up the in-JVM claim, in that order, so that no other open can map the file while
 *       this one can still store to it. A thread inside {@link #read} or {@link #write} during
 *       {@code close} gets {@link IllegalStateException}; the copy it was doing is cut short.
 * </ul>
 *
 * <h2>Implementation notes</h2>
 *
 * Measured through {@link FileMediaProvider} on the build machine (2 vCPU KVM guest, 23 GiB,
 * Temurin 25.0.3; {@code /dev/shm} is tmpfs, {@code /tmp} is ext4 on a virtio disk; one thread,
 * 256 MiB media, warm pages, 2,000 samples per persist row; "quiet" means no other build running,
 * "loaded" means load average 5-7 from parallel Maven builds):
 *
 * <table>
 *   <caption>Cost per operation</caption>
 *   <tr><th>operation</th><th>tmpfs (VOLATILE)</th><th>ext4 (PAGE_CACHE)</th></tr>
 *   <tr><td>read or write 4 KiB, random page-aligned offsets, heap or native segment</td>
 *       <td>0.46-0.55 us</td><td>0.37-0.44 us</td></tr>
 *   <tr><td>read 4 KiB, sequential</td><td>0.21-0.24 us</td><td>0.19 us</td></tr>
 *   <tr><td>bytes allocated by 1,000,000 reads</td><td>0</td><td>0</td></tr>
 *   <tr><td>persist of 4 KiB just written</td><td>0.1 us (fence)</td>
 *       <td>quiet: median 0.57 ms, p99 4.0 ms; loaded: median 1.9 ms, p99 7.9 ms</td></tr>
 *   <tr><td>persist of a clean 4 KiB range</td><td>0.1 us (fence)</td>
 *       <td>quiet: median 77 us; loaded: median 0.45 ms</td></tr>
 *   <tr><td>persist of zero length</td><td>&lt; 0.1 us</td><td>&lt; 0.1 us</td></tr>
 *   <tr><td>msync of a dirty 4 KiB on tmpfs (what VOLATILE skips)</td>
 *       <td>median 1.8-2.2 us, p99 11-13 us</td><td>-</td></tr>
 * </table>
 *
 * <p>So on a disk-backed file one persist costs as much as 1,000 to 4,000 copies of 4 KiB, and
 * even a persist of a clean range costs tens of microseconds (Linux implements {@code
 * msync(MS_SYNC)} with {@code vfs_fsync_range}, and ext4's fsync flushes the device's write cache
 * even when no page of the range was dirty). The engine should therefore persist whole structures (a data extent, a kset)
 * once, and merge adjacent ranges, rather than persist piece by piece. On tmpfs the system call
 * would buy nothing, so VOLATILE media skip it. First touch of a fresh sparse file adds page
 * faults (about 1 GB/s, see {@code java-stack.md}), paid once per page.
 *
 * <p>Why one mapping and not 1 GiB chunks as in Lucene: {@code FileChannel.map} with an {@link
 * Arena} returns a 64-bit segment, so media of any size (3 GiB is tested) is one mapping, one
 * {@code vm.max_map_count} entry and one bounds check. Chunks would only be needed to unmap parts
 * early, which cache media never does.
 */
final class FileMedia implements CacheMedia {

  /** The unit of {@code msync}: 4 KiB, the page size of x86-64 (and of most arm64 kernels). */
  static final long PAGE = 4096;

  private final String name;
  private final Path path;
  private final FileChannel channel;
  private final FileLock lock;
  private final Object key;
  private final Arena arena;
  private final MemorySegment segment;
  private final long size;
  private final PersistenceDomain domain;
  private final boolean readOnly;
  private volatile boolean closed;

  FileMedia(
      String name,
      Path path,
      FileChannel channel,
      FileLock lock,
      Object key,
      Arena arena,
      MemorySegment segment,
      PersistenceDomain domain,
      boolean readOnly) {
    this.name = name;
    this.path = path;
    this.channel = channel;
    this.lock = lock;
    this.key = key;
    this.arena = arena;
    this.segment = segment;
    this.size = segment.byteSize();
    this.domain = domain;
    this.readOnly = readOnly;
  }

  /** {@code file:} followed by the location as given; usable after close. */
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
    return domain;
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
      throw new UnsupportedOperationException(
          "cache media " + name + " is open read-only: write at offset " + offset + " length "
              + length + " refused");
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
    if (length == 0 || readOnly || domain != PersistenceDomain.PAGE_CACHE) {
      VarHandle.fullFence();
      return;
    }
    long start = offset & -PAGE;
    long end = Math.min(size, (offset + length + PAGE - 1) & -PAGE);
    try {
      segment.asSlice(start, end - start).force();
    } catch (UncheckedIOException e) {
      throw new IOException(
          "cache media " + name + ": persist at offset " + offset + " length " + length
              + " failed (msync of bytes " + start + " to " + end + " of " + path + "): "
              + e.getCause().getMessage() + "; the range is in an unknown state",
          e.getCause());
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
      arena.close();
    } finally {
      try {
        lock.release();
      } finally {
        try {
          channel.close();
        } finally {
          HeldFiles.release(key);
        }
      }
    }
  }

  @Override
  public String toString() {
    return name + " (" + size + " bytes, " + domain + (readOnly ? ", read-only" : "")
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
      throw new IndexOutOfBoundsException(
          "cache media " + name + ": access at offset " + offset + " length " + length
              + " is outside the media's " + size + " bytes");
    }
  }

  private RuntimeException closedDuring(String operation, IllegalStateException e) {
    if (!closed) {
      return e; // not ours: the caller's segment was closed or is confined to another thread
    }
    return new IllegalStateException(
        "cache media " + name + " was closed during " + operation, e);
  }
}
