package io.pcache.api.media;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Byte-addressable persistent memory that holds the cache: the Java counterpart of dm-pcache's
 * DAX cache device.
 *
 * <h2>Contract</h2>
 *
 * <ul>
 *   <li><b>Addressing.</b> Offsets are bytes from 0 to {@link #size()}, 64-bit (media larger than
 *       2 GiB work). An access that does not lie entirely within the media throws {@link
 *       IndexOutOfBoundsException} whose message names the media, the offset and the length;
 *       nothing is read or written.
 *   <li><b>Visibility.</b> A {@link #write} is visible to every later {@link #read}, from any
 *       thread, as soon as it returns; no barrier is needed for that.
 *   <li><b>Persistence.</b> Data written to a range is durable, within the media's {@link
 *       #persistenceDomain()}, only once {@link #persist} covering the range has returned. Stores
 *       are not ordered among themselves before that: after a crash, any subset of the
 *       unpersisted stores may have reached the media, in any order, with 8-byte granularity. A
 *       {@code persist} of one range orders all earlier stores to that range before all later
 *       stores anywhere. This is exactly what the engine relies on to keep dm-pcache's ordering
 *       (data before key, kset before key_head, and so on).
 *   <li><b>Thread safety.</b> All methods may be called concurrently; concurrent writes to
 *       overlapping ranges leave one of the values at each byte. The engine never writes the
 *       same range from two threads at once.
 *   <li><b>Life cycle.</b> After {@link #close()}, every method but {@code close} throws {@link
 *       IllegalStateException}. {@code close} does not persist anything by itself.
 * </ul>
 */
public interface CacheMedia extends AutoCloseable {

  /** The media as the user named it, for messages: {@code file:/var/lib/pcache/cache.img}. */
  String name();

  /** The size in bytes. */
  long size();

  /** What {@link #persist} achieves on this media. */
  PersistenceDomain persistenceDomain();

  /**
   * Copies {@code dst.byteSize()} bytes starting at {@code offset} into {@code dst}.
   *
   * @throws IndexOutOfBoundsException when the range does not lie within the media
   */
  void read(long offset, MemorySegment dst);

  /**
   * Copies {@code src.byteSize()} bytes from {@code src} to the media starting at {@code offset}.
   *
   * @throws IndexOutOfBoundsException when the range does not lie within the media
   */
  void write(long offset, MemorySegment src);

  /**
   * Makes every store to {@code [offset, offset + length)} durable in this media's {@link
   * #persistenceDomain()} and orders it before any later store. A zero length is a pure ordering
   * fence.
   *
   * @throws IndexOutOfBoundsException when the range does not lie within the media
   * @throws IOException when the media reports that the data could not be made durable (for
   *     example a failing {@code msync}); the range is then in an unknown state
   */
  void persist(long offset, long length) throws IOException;

  /**
   * A direct view of the whole media for zero-copy access, if the media has one. The view obeys
   * the same persistence rules; it becomes unusable when the media is closed.
   *
   * @return the mapping, or an empty segment ({@code byteSize() == 0}) when the media is not
   *     memory-mapped
   */
  default MemorySegment mapping() {
    return MemorySegment.NULL;
  }

  /** Unmaps and releases the media (and its lock). Idempotent. */
  @Override
  void close() throws IOException;
}
