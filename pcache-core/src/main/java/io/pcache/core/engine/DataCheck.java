package io.pcache.core.engine;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.format.Crc32c;
import io.pcache.core.format.KeyRecord;
import io.pcache.core.format.Layout;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Checks the data CRC of a key's extent: straight on the media's mapping when it has one, else
 * through one reused buffer (replay and GC check every key of a CRC cache; a fresh zeroed buffer
 * per key was more than half of their time). Not thread-safe: one per thread.
 */
final class DataCheck {

  private final CacheMedia media;
  private MemorySegment scratch;

  DataCheck(CacheMedia media) {
    this.media = media;
  }

  /** Whether the extent the key points to has the CRC the key records. */
  boolean matches(KeyRecord k) {
    long len = Integer.toUnsignedLong(k.len());
    long at = Layout.dataOffset(k.segId(), Integer.toUnsignedLong(k.segOff()));
    MemorySegment map = media.mapping();
    MemorySegment data;
    if (map.byteSize() >= at + len) {
      data = map.asSlice(at, len);
    } else {
      if (scratch == null || scratch.byteSize() < len) {
        scratch = Arena.ofAuto().allocate(Math.max(len, 64 * 1024), 8);
      }
      data = scratch.asSlice(0, len);
      media.read(at, data);
    }
    return Crc32c.update(Crc32c.PCACHE_SEED, data, 0, len) == k.dataCrc();
  }
}
