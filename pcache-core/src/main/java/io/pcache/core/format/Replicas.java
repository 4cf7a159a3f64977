package io.pcache.core.format;

import io.pcache.api.media.CacheMedia;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * One metadata item in two replicas on the media: finds the latest valid replica on load and
 * writes each update over the <em>older</em> one (dm-pcache after commit ebbb90344a7d "advance
 * slot index before writing slot"; the upstream tail encoder still writes the newer slot, a bug
 * not copied here). So a torn update always leaves the previous value readable.
 *
 * <p>Replica selection ({@code pcache_meta_find_latest}): a replica is valid when its CRC
 * matches; of two valid replicas the one whose 8-bit seq is after the other's (signed 8-bit
 * difference) wins, the first on a tie.
 *
 * <p>Not thread-safe: each item has one writer, which serialises its updates.
 *
 * @param <T> the record type
 */
public final class Replicas<T extends Replicated<T>> {

  /** Decodes a record at an offset of a buffer. */
  @FunctionalInterface
  public interface Decoder<T> {
    T decode(MemorySegment buf, long off);
  }

  private final CacheMedia media;
  private final long base;
  private final long stride;
  private final int size;
  private final Decoder<T> decoder;
  private final MemorySegment buf;
  private int index;
  private T latest;

  /**
   * @param base the offset of replica 0 on the media
   * @param stride the distance to replica 1 (4096 for cache_info and segment_info, the struct
   *     size for positions and generations)
   * @param size the struct size covered by the CRC
   */
  public Replicas(CacheMedia media, long base, long stride, int size, Decoder<T> decoder) {
    this.media = media;
    this.base = base;
    this.stride = stride;
    this.size = size;
    this.decoder = decoder;
    this.buf = Arena.ofAuto().allocate(size, 8);
  }

  /** Reads both replicas; returns the latest valid one and remembers its slot. */
  public Optional<T> load() {
    T best = null;
    int bestIndex = 0;
    for (int i = 0; i < Layout.META_INDEX_MAX; i++) {
      media.read(base + i * stride, buf);
      if (buf.get(Meta.U32, 0) != Meta.crc(buf, 0, size)) {
        continue;
      }
      T candidate = decoder.decode(buf, 0);
      if (best == null || Meta.seqAfter(candidate.seq(), best.seq())) {
        best = candidate;
        bestIndex = i;
      }
    }
    index = bestIndex;
    latest = best;
    return Optional.ofNullable(best);
  }

  /** Starts from no replica (a new item): the first update gets seq 1 and lands in slot 1. */
  public void reset() {
    index = 0;
    latest = null;
  }

  /** The latest value, as loaded or last written. */
  public Optional<T> latest() {
    return Optional.ofNullable(latest);
  }

  /** The slot of the latest value. */
  public int index() {
    return index;
  }

  /**
   * Writes {@code value} with the next seq over the older replica and persists it.
   *
   * @return the value as written (with its seq)
   */
  public T update(T value) throws IOException {
    int seq = latest == null ? 1 : (latest.seq() + 1) & 0xFF;
    T next = value.withSeq(seq);
    int slot = (index + 1) % Layout.META_INDEX_MAX;
    next.encode(buf, 0);
    long at = base + slot * stride;
    media.write(at, buf);
    media.persist(at, size);
    index = slot;
    latest = next;
    return next;
  }
}
