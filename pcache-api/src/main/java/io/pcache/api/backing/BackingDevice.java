package io.pcache.api.backing;

import io.pcache.api.BlockIOException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * The slow device whose content pcache caches: a disk, a partition, an image file, a network disk.
 *
 * <h2>Contract</h2>
 *
 * <ul>
 *   <li><b>Blocking and concurrent.</b> Every method blocks until the operation is done and may be
 *       called from any number of threads at once (the engine calls it from virtual threads and
 *       keeps many requests in flight). An implementation must not serialise independent requests
 *       behind one lock, and must not be disturbed by a caller thread being interrupted.
 *   <li><b>Ranges.</b> Offsets and lengths are bytes, multiples of {@link #logicalBlockSize()},
 *       within {@link #size()}. A request that is not throws {@link BlockIOException} with {@link
 *       BlockIOException.Errno#EINVAL} and changes nothing.
 *   <li><b>Durability.</b> A write that has returned is visible to later reads; it is durable only
 *       after a {@link #flush()} that started after it has returned.
 *   <li><b>Errors.</b> A failed operation throws {@link BlockIOException} naming the device,
 *       offset and length; the engine retries writes and never assumes a failed write left the
 *       old data in place.
 *   <li><b>Buffers.</b> {@code MemorySegment} arguments may be heap or native, of any alignment;
 *       an implementation that needs aligned memory (O_DIRECT) copies through its own buffer.
 * </ul>
 */
public interface BackingDevice extends AutoCloseable {

  /** The device as the user named it, for messages: {@code block:/dev/sdb}. */
  String name();

  /**
   * The size in bytes when the device was opened, a multiple of {@link #logicalBlockSize()}: the
   * size pcache serves, and the bound of every request's range. It does not change while the
   * device is open; see {@link #currentSize()} for what the device measures now.
   */
  long size();

  /**
   * What this device is, for the engine to tie a cache to it (see {@link BackingIdentity}): equal
   * {@link BackingIdentity#sameDevice same-device} identities for every open of one device, and
   * different ones for different devices, with {@link BackingIdentity#size()} equal to {@link
   * #size()}. Called once per start, before any I/O; must not block on the device (a driver works
   * it out while opening).
   *
   * <p>The default identifies the device by its {@link #name()}: as good as the name is stable
   * and unique. A driver that can tell more (a disk's WWN, a file's inode, a remote image's id)
   * overrides it; a driver that wraps another device returns the wrapped device's identity.
   */
  default BackingIdentity identity() {
    return BackingIdentity.ofName(name(), size());
  }

  /**
   * The size the device has now, measured at each call, rounded down to a multiple of {@link
   * #logicalBlockSize()}. It differs from {@link #size()} when the device was resized under pcache
   * (an image file truncated or extended, a logical volume reduced). Writeback asks before each
   * batch and after a failed write, and does not write where the device has shrunk: a write past
   * the end of an image file would silently extend it again, with holes where its data was.
   *
   * <p>Cheap (one {@code fstat} or {@code ioctl}), callable from any thread. Implementations whose
   * size can change must override it; the default, {@link #size()}, is for devices whose size
   * cannot change while they are open (memory).
   *
   * @throws BlockIOException when the size cannot be measured, naming the device; {@link
   *     BlockIOException.Errno#ESHUTDOWN} after {@link #close()}
   */
  default long currentSize() throws BlockIOException {
    return size();
  }

  /** The smallest unit of I/O in bytes (512 or 4096). */
  int logicalBlockSize();

  /** Reads {@code dst.byteSize()} bytes at {@code offset}. */
  void read(long offset, MemorySegment dst) throws BlockIOException;

  /** Writes {@code src.byteSize()} bytes at {@code offset}. */
  void write(long offset, MemorySegment src) throws BlockIOException;

  /** Makes every write that returned before this call durable ({@code fdatasync}). */
  void flush() throws BlockIOException;

  /**
   * Tells the device a range is no longer needed. Advisory: afterwards the range reads as zeroes
   * or as its old content, depending on the device. Use {@link #writeZeroes} where zeroes are
   * needed.
   */
  void discard(long offset, long length) throws BlockIOException;

  /** Makes a range read as zeroes, as cheaply as the device allows. */
  void writeZeroes(long offset, long length) throws BlockIOException;

  /** Releases the device (and its exclusive claim). Does not flush. Idempotent. */
  @Override
  void close() throws IOException;
}
