package io.pcache.api;

import java.lang.foreign.MemorySegment;
import java.util.Set;

/**
 * The cached block device that front-ends serve: what the engine offers to NBD, ublk or any other
 * front-end plugin.
 *
 * <h2>Contract</h2>
 *
 * <ul>
 *   <li><b>Thread safety.</b> Every method may be called from any number of threads at once; the
 *       device keeps many requests in flight and never serialises them behind one lock.
 *       Concurrent requests to overlapping ranges complete in an unspecified order, as on a real
 *       disk.
 *   <li><b>Visibility.</b> Once a {@code write}, {@code discard} or {@code writeZeroes} call has
 *       returned, every read that starts afterwards sees its effect.
 *   <li><b>Durability.</b> A write is durable (survives a crash or power cut of the cache media)
 *       once a {@link #flush()} that started after the write returned has itself returned, or when
 *       the write was made with {@code fua = true} and has returned. Nothing else is promised: a
 *       write that was not flushed may or may not be there after a crash, but it never reads back
 *       as garbage.
 *   <li><b>Ranges.</b> Offsets and lengths are in bytes and must be multiples of {@link
 *       #logicalBlockSize()} and lie within {@link #size()}; otherwise {@link BlockIOException}
 *       with {@link BlockIOException.Errno#EINVAL} is thrown and nothing is changed.
 *   <li><b>Errors.</b> Failures are reported as {@link BlockIOException}, whose errno a front-end
 *       passes to its client; the message names the device, offset and length.
 * </ul>
 */
public interface BlockDevice {

  /** Optional operations a front-end may advertise to its clients. */
  enum Feature {
    /** {@link #flush()} is meaningful (the device has a volatile write cache). */
    FLUSH,
    /** Writes with {@code fua = true} are durable on return. */
    FUA,
    /** {@link #discard} is supported. */
    DISCARD,
    /** {@link #writeZeroes} is supported. */
    WRITE_ZEROES,
    /** {@link #prefetch} loads data into the cache. */
    PREFETCH
  }

  /** A short name for messages, for example {@code pcache(file:/var/lib/pcache/cache.img)}. */
  String name();

  /** The size in bytes, a multiple of {@link #logicalBlockSize()}. */
  long size();

  /** The smallest addressable unit, in bytes: 512. */
  int logicalBlockSize();

  /** The unit that avoids read-modify-write inside the device, in bytes: usually 4096. */
  int physicalBlockSize();

  /** The operations beyond read and write this device honours. */
  Set<Feature> features();

  /** Reads {@code dst.byteSize()} bytes starting at {@code offset} into {@code dst}. */
  void read(long offset, MemorySegment dst) throws BlockIOException;

  /**
   * Writes {@code src.byteSize()} bytes starting at {@code offset}.
   *
   * @param fua when true, the data is durable when this method returns
   */
  void write(long offset, MemorySegment src, boolean fua) throws BlockIOException;

  /** Makes every write that returned before this call durable. */
  void flush() throws BlockIOException;

  /**
   * Discards a range: afterwards it reads as zeroes, and the old data never comes back, neither
   * through the cache nor after a crash once the discard has been flushed.
   */
  void discard(long offset, long length) throws BlockIOException;

  /**
   * Writes zeroes over a range.
   *
   * @param fua when true, the zeroes are durable when this method returns
   */
  void writeZeroes(long offset, long length, boolean fua) throws BlockIOException;

  /**
   * Reads like {@link #read} if that is quick: the whole range is served from memory, with no
   * backing-device I/O and no wait for another request. Returns false when it is not (or the device
   * cannot tell); {@code dst} then holds unspecified bytes and the caller calls {@link #read}.
   *
   * <p>The {@code try} methods are for front-ends that run quick requests right on the thread that
   * reads them from the client and hand only the others to threads that may block: a request that
   * completes in microseconds is not worth a thread hand-off, but one that waits must not hold up
   * the requests behind it. They may still take a lock for a moment (as the blocking variants do),
   * never across I/O. Errors are thrown as by the blocking variant. The defaults return false.
   */
  default boolean tryRead(long offset, MemorySegment dst) throws BlockIOException {
    return false;
  }

  /**
   * Writes like {@link #write} if that is quick: no wait for cache space and no slow persist
   * (such as an {@code msync} to a disk). Returns false when it is not (or the device cannot
   * tell); a prefix of the range may then have been written, and the caller calls {@link #write}
   * for the whole range. See {@link #tryRead} for what quick means.
   *
   * @param fua when true, the data is durable when this method returns true
   */
  default boolean tryWrite(long offset, MemorySegment src, boolean fua) throws BlockIOException {
    return false;
  }

  /**
   * Flushes like {@link #flush} if that is quick (persisting is a memory fence, not a disk
   * write). Returns false without doing anything when it is not (or the device cannot tell); the
   * caller then calls {@link #flush}. See {@link #tryRead} for what quick means.
   */
  default boolean tryFlush() throws BlockIOException {
    return false;
  }

  /** Loads a range into the cache without returning it (a hint; may do nothing). */
  default void prefetch(long offset, long length) throws BlockIOException {
    BlockIOException.checkRange(name(), size(), offset, length);
  }
}
