package io.pcache.testkit;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.PersistenceDomain;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A {@link CacheMedia} in the Java heap, sparse (64 KiB chunks allocated on first write), used to
 * test the conformance suite itself: without flaws it must pass the whole suite, and with each
 * {@link Flaw} it must fail the test meant to catch it. Media are keyed by the directory the suite
 * passes and survive close until {@link #forget}.
 */
final class SparseHeapMedia implements CacheMedia {

  /** Mistakes a real driver could make, each to be caught by at least one conformance test. */
  enum Flaw {
    /** Checks {@code offset + length > size}, which overflows. */
    OVERFLOWING_BOUNDS_CHECK,
    /** Writes the in-range part of an out-of-range write before refusing it. */
    PARTIAL_WRITE_BEFORE_BOUNDS_CHECK,
    /** Bounds messages name the offset and length but not the media. */
    ANONYMOUS_BOUNDS_MESSAGE,
    /** Addresses with the low 31 bits of the offset, as an {@code int} offset would. */
    INT_OFFSETS,
    /** Skips the last byte before a chunk edge when a write crosses it. */
    DROPS_BYTE_AT_CHUNK_EDGE,
    /** Stages every write through one buffer shared by all threads. */
    SHARED_STAGING_BUFFER,
    /** Keeps working after close. */
    USABLE_AFTER_CLOSE,
    /** A second close throws. */
    CLOSE_NOT_IDEMPOTENT,
    /** Lets a second open in while the media is open. */
    NO_EXCLUSION,
    /** Accepts writes when opened read-only. */
    WRITABLE_WHEN_READ_ONLY,
    /** Reopens empty. */
    FORGETS_ON_REOPEN,
    /** Reopening with another size resizes the media. */
    RESIZES_ON_REOPEN,
    /** {@code persist} does not check its range. */
    UNCHECKED_PERSIST,
    /** Refuses a zero-length access at offset {@code size}. */
    REFUSES_EMPTY_AT_END,
  }

  private static final int CHUNK = 64 << 10;
  private static final Map<Path, Store> STORES = new ConcurrentHashMap<>();
  private static final byte[] STAGING = new byte[CHUNK];

  /** What survives close. */
  private static final class Store {
    long size;
    Map<Long, byte[]> chunks = new ConcurrentHashMap<>();
    int openers;
  }

  private final Store store;
  private final String name;
  private final boolean readOnly;
  private final Set<Flaw> flaws;
  private volatile boolean closed;

  private SparseHeapMedia(Store store, String name, boolean readOnly, Set<Flaw> flaws) {
    this.store = store;
    this.name = name;
    this.readOnly = readOnly;
    this.flaws = flaws;
  }

  static SparseHeapMedia create(Path dir, long size, Set<Flaw> flaws) throws IOException {
    Store store = new Store();
    store.size = size;
    if (STORES.putIfAbsent(dir, store) != null) {
      throw new IOException("heap:" + dir + " exists already");
    }
    return open(dir, MediaOptions.create(size), flaws);
  }

  static SparseHeapMedia open(Path dir, MediaOptions options, Set<Flaw> flaws) throws IOException {
    Store store = STORES.get(dir);
    String name = "heap:" + dir;
    if (store == null) {
      throw new IOException(name + " does not exist");
    }
    synchronized (store) {
      if (store.openers != 0 && !flaws.contains(Flaw.NO_EXCLUSION)) {
        throw new IOException(name + " is open already");
      }
      if (options.createSize() != 0 && options.createSize() != store.size) {
        if (!flaws.contains(Flaw.RESIZES_ON_REOPEN)) {
          throw new IOException(
              name + " is " + store.size + " bytes, not " + options.createSize() + " bytes");
        }
        store.size = options.createSize();
      }
      if (flaws.contains(Flaw.FORGETS_ON_REOPEN)) {
        store.chunks = new ConcurrentHashMap<>();
      }
      store.openers++;
    }
    return new SparseHeapMedia(store, name, options.readOnly(), flaws);
  }

  static void forget(Path dir) {
    STORES.remove(dir);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public long size() {
    checkOpen();
    return store.size;
  }

  @Override
  public PersistenceDomain persistenceDomain() {
    checkOpen();
    return PersistenceDomain.VOLATILE;
  }

  @Override
  public void read(long offset, MemorySegment dst) {
    checkOpen();
    checkBounds(offset, dst.byteSize());
    long length = dst.byteSize();
    for (long done = 0; done < length; ) {
      long at = address(offset + done);
      int in = (int) (at % CHUNK);
      int step = (int) Math.min(CHUNK - in, length - done);
      byte[] chunk = store.chunks.get(at / CHUNK);
      if (chunk == null) {
        dst.asSlice(done, step).fill((byte) 0);
      } else {
        MemorySegment.copy(MemorySegment.ofArray(chunk), in, dst, done, step);
      }
      done += step;
    }
  }

  @Override
  public void write(long offset, MemorySegment src) {
    checkOpen();
    if (readOnly && !flaws.contains(Flaw.WRITABLE_WHEN_READ_ONLY)) {
      throw new UnsupportedOperationException(name + " is open read-only");
    }
    long length = src.byteSize();
    if (flaws.contains(Flaw.PARTIAL_WRITE_BEFORE_BOUNDS_CHECK) && offset >= 0 && offset < size()) {
      copyIn(offset, src.asSlice(0, Math.min(length, size() - offset)));
    }
    checkBounds(offset, length);
    copyIn(offset, src);
  }

  private void copyIn(long offset, MemorySegment src) {
    long length = src.byteSize();
    for (long done = 0; done < length; ) {
      long at = address(offset + done);
      int in = (int) (at % CHUNK);
      int step = (int) Math.min(CHUNK - in, length - done);
      byte[] chunk = store.chunks.computeIfAbsent(at / CHUNK, k -> new byte[CHUNK]);
      int copied = step;
      if (flaws.contains(Flaw.DROPS_BYTE_AT_CHUNK_EDGE) && done + step < length) {
        copied--;
      }
      if (flaws.contains(Flaw.SHARED_STAGING_BUFFER)) {
        MemorySegment.copy(src, done, MemorySegment.ofArray(STAGING), 0, copied);
        Thread.yield();
        System.arraycopy(STAGING, 0, chunk, in, copied);
      } else {
        MemorySegment.copy(src, done, MemorySegment.ofArray(chunk), in, copied);
      }
      done += step;
    }
  }

  @Override
  public void persist(long offset, long length) {
    checkOpen();
    if (!flaws.contains(Flaw.UNCHECKED_PERSIST)) {
      checkBounds(offset, length);
    }
  }

  @Override
  public void close() {
    if (closed) {
      if (flaws.contains(Flaw.CLOSE_NOT_IDEMPOTENT)) {
        throw new IllegalStateException(name + " is closed already");
      }
      return;
    }
    closed = true;
    synchronized (store) {
      store.openers--;
    }
  }

  private long address(long offset) {
    return flaws.contains(Flaw.INT_OFFSETS) ? offset & Integer.MAX_VALUE : offset;
  }

  private void checkOpen() {
    if (closed && !flaws.contains(Flaw.USABLE_AFTER_CLOSE)) {
      throw new IllegalStateException(name + " is closed");
    }
  }

  private void checkBounds(long offset, long length) {
    long size = store.size;
    boolean inside =
        flaws.contains(Flaw.OVERFLOWING_BOUNDS_CHECK)
            ? offset >= 0 && length >= 0 && offset + length <= size
            : offset >= 0 && length >= 0 && offset <= size - length;
    if (flaws.contains(Flaw.REFUSES_EMPTY_AT_END) && length == 0 && offset == size) {
      inside = false;
    }
    if (!inside) {
      String media = flaws.contains(Flaw.ANONYMOUS_BOUNDS_MESSAGE) ? "media" : name;
      throw new IndexOutOfBoundsException(
          media + ": offset " + offset + " length " + length + " is outside [0, " + size + ")");
    }
  }
}
