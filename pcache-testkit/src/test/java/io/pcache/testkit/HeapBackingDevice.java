package io.pcache.testkit;

import io.pcache.api.BlockIOException;
import io.pcache.api.BlockIOException.Errno;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingIdentity;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A reference {@link BackingDevice} on a {@code byte[]} kept per directory (so it "persists"
 * across close and reopen), with optional {@link Flaw}s: the suite must pass on it without flaws
 * and catch each flaw.
 */
final class HeapBackingDevice implements BackingDevice {

  /** A mistake a real driver could make. */
  enum Flaw {
    NO_ALIGNMENT_CHECK,
    OVERFLOWING_RANGE_CHECK,
    PARTIAL_WRITE_AT_END,
    ANONYMOUS_ERRORS,
    REFUSES_EMPTY_AT_END,
    IGNORES_SLICE_OFFSET,
    ZEROES_SPILL_INTO_NEXT_BLOCK,
    DISCARD_CLOBBERS_NEIGHBOUR,
    SHARED_STAGING_BUFFER,
    FORGETS_ON_REOPEN,
    NO_EXCLUSION,
    CLOSE_NOT_IDEMPOTENT,
    USABLE_AFTER_CLOSE,
    FAILS_WHEN_INTERRUPTED,
    CLEARS_INTERRUPT,
    WRITABLE_WHEN_READ_ONLY,
    ONE_IDENTITY_FOR_ALL,
    NEW_IDENTITY_PER_OPEN,
    IDENTITY_WITHOUT_SIZE,
    STALE_CURRENT_SIZE
  }

  static final int BLOCK = 512;

  private static final Map<Path, byte[]> STORES = new ConcurrentHashMap<>();
  private static final Set<Path> OPEN = ConcurrentHashMap.newKeySet();
  /** Sizes given by {@link #resize}, per directory; the store keeps its length. */
  private static final Map<Path, Long> RESIZED = new ConcurrentHashMap<>();

  private final Path dir;
  private final String name;
  private final byte[] store;
  private final boolean readOnly;
  private final Set<Flaw> flaws;
  private byte[] staging = new byte[0];
  private volatile boolean closed;

  private HeapBackingDevice(Path dir, byte[] store, boolean readOnly, Set<Flaw> flaws) {
    this.dir = dir;
    this.name = "heap:" + dir;
    this.store = store;
    this.readOnly = readOnly;
    this.flaws = flaws;
  }

  /** Opens the device of {@code dir}, creating it with {@code size} bytes on first use. */
  static HeapBackingDevice open(Path dir, long size, boolean readOnly, Set<Flaw> flaws) throws IOException {
    Set<Flaw> f = flaws.isEmpty() ? EnumSet.noneOf(Flaw.class) : EnumSet.copyOf(flaws);
    if (!f.contains(Flaw.NO_EXCLUSION) && !OPEN.add(dir)) {
      throw new IOException("backing device heap:" + dir + " is in use");
    }
    byte[] store = STORES.computeIfAbsent(dir, d -> new byte[Math.toIntExact(size)]);
    if (f.contains(Flaw.FORGETS_ON_REOPEN)) {
      store = new byte[store.length];
      STORES.put(dir, store);
    }
    return new HeapBackingDevice(dir, store, readOnly, f);
  }

  /** Resizes the device of {@code dir} under its open instances (what {@link #currentSize()} reports). */
  static void resize(Path dir, long bytes) {
    RESIZED.put(dir, bytes);
  }

  /** Drops the content of {@code dir}. */
  static void forget(Path dir) {
    STORES.remove(dir);
    RESIZED.remove(dir);
    OPEN.remove(dir);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public long size() {
    return store.length;
  }

  private static final java.util.concurrent.atomic.AtomicLong OPENS = new java.util.concurrent.atomic.AtomicLong();
  private final long openNumber = OPENS.incrementAndGet();

  @Override
  public BackingIdentity identity() {
    if (flaws.contains(Flaw.ONE_IDENTITY_FOR_ALL)) {
      return new BackingIdentity("heap", "heap", size(), name);
    }
    if (flaws.contains(Flaw.NEW_IDENTITY_PER_OPEN)) {
      return new BackingIdentity("heap", name + "#" + openNumber, size(), name);
    }
    if (flaws.contains(Flaw.IDENTITY_WITHOUT_SIZE)) {
      return new BackingIdentity("heap", name, 0, name);
    }
    return BackingDevice.super.identity();
  }

  @Override
  public long currentSize() throws BlockIOException {
    enter(0, 0, false);
    return flaws.contains(Flaw.STALE_CURRENT_SIZE) ? store.length : RESIZED.getOrDefault(dir, (long) store.length) / BLOCK * BLOCK;
  }

  @Override
  public int logicalBlockSize() {
    return BLOCK;
  }

  @Override
  public void read(long offset, MemorySegment dst) throws BlockIOException {
    long length = dst.byteSize();
    enter(offset, length, false);
    if (flaws.contains(Flaw.IGNORES_SLICE_OFFSET) && dst.heapBase().orElse(null) instanceof byte[] array) {
      System.arraycopy(store, (int) offset, array, 0, (int) length);
      return;
    }
    MemorySegment.copy(MemorySegment.ofArray(store), offset, dst, 0, length);
  }

  @Override
  public void write(long offset, MemorySegment src) throws BlockIOException {
    long length = src.byteSize();
    if (flaws.contains(Flaw.PARTIAL_WRITE_AT_END) && offset >= 0 && offset < store.length) {
      long n = Math.min(length, store.length - offset);
      MemorySegment.copy(src, 0, MemorySegment.ofArray(store), offset, n);
    }
    enter(offset, length, true);
    if (flaws.contains(Flaw.SHARED_STAGING_BUFFER)) {
      if (staging.length < length) {
        staging = new byte[(int) length];
      }
      byte[] shared = staging;
      MemorySegment.copy(src, 0, MemorySegment.ofArray(shared), 0, length);
      Thread.yield();
      System.arraycopy(shared, 0, store, (int) offset, (int) length);
      return;
    }
    MemorySegment.copy(src, 0, MemorySegment.ofArray(store), offset, length);
  }

  @Override
  public void flush() throws BlockIOException {
    enter(0, 0, false);
  }

  @Override
  public void discard(long offset, long length) throws BlockIOException {
    enter(offset, length, true);
    Arrays.fill(store, (int) offset, (int) (offset + length), (byte) 0);
    if (flaws.contains(Flaw.DISCARD_CLOBBERS_NEIGHBOUR) && offset + length < store.length) {
      store[(int) (offset + length)] ^= 1;
    }
  }

  @Override
  public void writeZeroes(long offset, long length) throws BlockIOException {
    enter(offset, length, true);
    long end = offset + length;
    if (flaws.contains(Flaw.ZEROES_SPILL_INTO_NEXT_BLOCK)) {
      end = Math.min(store.length, end + BLOCK);
    }
    Arrays.fill(store, (int) offset, (int) end, (byte) 0);
  }

  @Override
  public void close() throws IOException {
    if (closed && flaws.contains(Flaw.CLOSE_NOT_IDEMPOTENT)) {
      throw new IOException(name + " is already closed");
    }
    if (!closed) {
      closed = true;
      OPEN.remove(dir);
    }
  }

  private void enter(long offset, long length, boolean writing) throws BlockIOException {
    String device = flaws.contains(Flaw.ANONYMOUS_ERRORS) ? "the device" : name;
    if (flaws.contains(Flaw.CLEARS_INTERRUPT)) {
      Thread.interrupted();
    }
    if (flaws.contains(Flaw.FAILS_WHEN_INTERRUPTED) && Thread.currentThread().isInterrupted()) {
      throw new BlockIOException(Errno.EIO, device, offset, length, "interrupted");
    }
    if (closed && !flaws.contains(Flaw.USABLE_AFTER_CLOSE)) {
      throw new BlockIOException(Errno.ESHUTDOWN, device, offset, length, "closed");
    }
    if (flaws.contains(Flaw.OVERFLOWING_RANGE_CHECK)) {
      if (offset < 0 || length < 0 || offset + length > store.length) {
        throw new BlockIOException(Errno.EINVAL, device, offset, length, "out of range");
      }
    } else if (flaws.contains(Flaw.REFUSES_EMPTY_AT_END) && offset >= store.length) {
      throw new BlockIOException(Errno.EINVAL, device, offset, length, "out of range");
    } else {
      BlockIOException.checkRange(device, store.length, offset, length);
    }
    if (!flaws.contains(Flaw.NO_ALIGNMENT_CHECK) && ((offset | length) & (BLOCK - 1)) != 0) {
      throw new BlockIOException(Errno.EINVAL, device, offset, length, "misaligned");
    }
    if (writing && readOnly && !flaws.contains(Flaw.WRITABLE_WHEN_READ_ONLY)) {
      throw new BlockIOException(Errno.ENOTSUP, device, offset, length, "read-only");
    }
  }
}
