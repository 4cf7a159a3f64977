package io.pcache.core.engine;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.PersistenceDomain;
import io.pcache.testkit.MemoryMedia;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A {@link MemoryMedia} whose persists (or writes) fail on demand: {@link #failPersists} arms the
 * next {@code n} persists that overlap a byte range to throw what a supplier gives (an
 * IOException, a RuntimeException or an Error). Small and test-local: pcache-testkit's FaultyMedia
 * will replace it.
 */
final class PersistFaultMedia implements CacheMedia {

  private final MemoryMedia delegate;
  private volatile long from;
  private volatile long to;
  private final AtomicInteger persistsLeft = new AtomicInteger();
  private final AtomicInteger writesLeft = new AtomicInteger();
  private volatile Supplier<Throwable> failure;
  /** Failures thrown so far. */
  final AtomicInteger thrown = new AtomicInteger();

  PersistFaultMedia(MemoryMedia delegate) {
    this.delegate = delegate;
  }

  MemoryMedia delegate() {
    return delegate;
  }

  /** The next {@code n} persists overlapping [{@code from}, {@code to}) throw {@code failure.get()}. */
  void failPersists(long from, long to, int n, Supplier<Throwable> failure) {
    this.from = from;
    this.to = to;
    this.failure = failure;
    writesLeft.set(0);
    persistsLeft.set(n);
  }

  /** The next {@code n} writes overlapping [{@code from}, {@code to}) throw {@code failure.get()}. */
  void failWrites(long from, long to, int n, Supplier<Throwable> failure) {
    this.from = from;
    this.to = to;
    this.failure = failure;
    persistsLeft.set(0);
    writesLeft.set(n);
  }

  private boolean take(AtomicInteger left, long off, long len) {
    if (off >= to || off + len <= from) {
      return false;
    }
    return left.getAndUpdate(n -> Math.max(0, n - 1)) > 0;
  }

  private static <T extends Throwable> void sneaky(Throwable t) throws T {
    @SuppressWarnings("unchecked")
    T x = (T) t;
    throw x;
  }

  private void fail(long off, long len) throws IOException {
    thrown.incrementAndGet();
    Throwable t = failure.get();
    if (t instanceof IOException io) {
      throw io;
    }
    PersistFaultMedia.<RuntimeException>sneaky(t);
  }

  @Override
  public String name() {
    return delegate.name();
  }

  @Override
  public long size() {
    return delegate.size();
  }

  @Override
  public PersistenceDomain persistenceDomain() {
    return delegate.persistenceDomain();
  }

  @Override
  public void read(long offset, MemorySegment dst) {
    delegate.read(offset, dst);
  }

  @Override
  public void write(long offset, MemorySegment src) {
    if (take(writesLeft, offset, src.byteSize())) {
      try {
        fail(offset, src.byteSize());
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
    delegate.write(offset, src);
  }

  @Override
  public void persist(long offset, long length) throws IOException {
    if (take(persistsLeft, offset, length)) {
      fail(offset, length);
    }
    delegate.persist(offset, length);
  }

  @Override
  public MemorySegment mapping() {
    return delegate.mapping();
  }

  @Override
  public void close() {
    delegate.close();
  }
}
