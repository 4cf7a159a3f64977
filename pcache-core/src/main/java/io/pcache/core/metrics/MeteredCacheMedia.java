package io.pcache.core.metrics;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.PersistenceDomain;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A {@link CacheMedia} whose calls are counted: bytes read, written and persisted, and failures.
 * Not timed: a media access is a memory copy of a few hundred nanoseconds, which two clock reads
 * would measurably slow down. Accesses the engine makes through {@link #mapping()} directly
 * (writeback and CRC checks on mapped media read the mapping, zero-copy) are not seen here.
 */
public final class MeteredCacheMedia implements CacheMedia {

  private final CacheMedia media;
  final OpMeter reads = new OpMeter("read", false);
  final OpMeter writes = new OpMeter("write", false);
  final OpMeter persists = new OpMeter("persist", false);

  public MeteredCacheMedia(CacheMedia media) {
    this.media = media;
  }

  /** Every operation's meter, in a stable order. */
  public List<OpMeter> meters() {
    return List.of(reads, writes, persists);
  }

  /** Failed calls of every kind. */
  public long errors() {
    return reads.errors() + writes.errors() + persists.errors();
  }

  @Override
  public String name() {
    return media.name();
  }

  @Override
  public long size() {
    return media.size();
  }

  @Override
  public PersistenceDomain persistenceDomain() {
    return media.persistenceDomain();
  }

  @Override
  public void read(long offset, MemorySegment dst) {
    try {
      media.read(offset, dst);
    } catch (RuntimeException | Error e) {
      reads.failed();
      throw e;
    }
    reads.count(dst.byteSize());
  }

  @Override
  public void write(long offset, MemorySegment src) {
    try {
      media.write(offset, src);
    } catch (RuntimeException | Error e) {
      writes.failed();
      throw e;
    }
    writes.count(src.byteSize());
  }

  @Override
  public void persist(long offset, long length) throws IOException {
    try {
      media.persist(offset, length);
    } catch (IOException | RuntimeException | Error e) {
      persists.failed();
      throw e;
    }
    persists.count(length);
  }

  @Override
  public MemorySegment mapping() {
    return media.mapping();
  }

  @Override
  public void close() throws IOException {
    media.close();
  }
}
