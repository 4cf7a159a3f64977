package io.pcache.core.format;

import static io.pcache.core.format.Meta.U32;
import static io.pcache.core.format.Meta.U64;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * An on-media kset: {@code +0 crc u32 | +4 key_num u32 (next_cache_seg_id when LAST) | +8 magic
 * u64 | +16 flags u64 | +24 key[key_num]}, packed back to back in the kset segments of the log.
 * A normal kset holds 1-128 keys and is 24 + 40·n bytes; a LAST kset is a 24-byte header that
 * chains to the next kset segment. The CRC covers bytes [4, size). Test vectors: LAST → segment
 * 5: crc 0x5917C2A5; one key {off 0, len 4096, seg 1}: size 64, crc 0xD4D6C614.
 *
 * @param nextSegId for a LAST kset, the next kset segment; otherwise -1
 * @param keys the keys, empty for a LAST kset
 */
public record Kset(int nextSegId, List<KeyRecord> keys) {

  /** Why a kset could not be read: anything but {@link #VALID} ends the log there. */
  public enum Check {
    VALID, NO_MAGIC, BAD_KEY_COUNT, TRUNCATED, BAD_CRC
  }

  public boolean last() {
    return keys.isEmpty();
  }

  /** The kset's size on media. */
  public int size() {
    return sizeOf(keys.size());
  }

  public static int sizeOf(int keyCount) {
    return Layout.KSET_HEADER_SIZE + keyCount * Layout.KEY_SIZE;
  }

  /**
   * Checks the kset at {@code off}: magic, key count (1..128, checked before the CRC as the
   * hardened kernel does), that it fits in {@code available} bytes, and its CRC.
   */
  public static Check check(MemorySegment buf, long off, long available) {
    if (available < Layout.KSET_HEADER_SIZE || buf.get(U64, off + 8) != Layout.KSET_MAGIC) {
      return Check.NO_MAGIC;
    }
    boolean last = (buf.get(U64, off + 16) & Layout.KSET_F_LAST) != 0;
    int size = Layout.KSET_HEADER_SIZE;
    if (!last) {
      int n = buf.get(U32, off + 4);
      if (n <= 0 || n > Layout.KSET_KEYS_MAX) {
        return Check.BAD_KEY_COUNT;
      }
      size = sizeOf(n);
    }
    if (size > available) {
      return Check.TRUNCATED;
    }
    return buf.get(U32, off) == Meta.crc(buf, off, size) ? Check.VALID : Check.BAD_CRC;
  }

  /** Decodes a kset that {@link #check} found {@link Check#VALID}. */
  public static Kset decode(MemorySegment buf, long off) {
    boolean last = (buf.get(U64, off + 16) & Layout.KSET_F_LAST) != 0;
    if (last) {
      return new Kset(buf.get(U32, off + 4), List.of());
    }
    int n = buf.get(U32, off + 4);
    List<KeyRecord> keys = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      keys.add(KeyRecord.decode(buf, off + Layout.KSET_HEADER_SIZE + (long) i * Layout.KEY_SIZE));
    }
    return new Kset(-1, List.copyOf(keys));
  }

  /** Writes a normal kset of {@code keys} (1..128) at {@code off}; returns its size. */
  public static int encode(MemorySegment buf, long off, List<KeyRecord> keys) {
    if (keys.isEmpty() || keys.size() > Layout.KSET_KEYS_MAX) {
      throw new IllegalArgumentException("a kset holds 1 to 128 keys, not " + keys.size());
    }
    for (int i = 0; i < keys.size(); i++) {
      keys.get(i).encode(buf, off + Layout.KSET_HEADER_SIZE + (long) i * Layout.KEY_SIZE);
    }
    return seal(buf, off, keys.size());
  }

  /**
   * Completes a kset whose {@code keyCount} keys are already encoded after the header: writes
   * key_num, magic, flags 0 and the CRC. Returns the size.
   */
  public static int seal(MemorySegment buf, long off, int keyCount) {
    buf.set(U32, off + 4, keyCount);
    buf.set(U64, off + 8, Layout.KSET_MAGIC);
    buf.set(U64, off + 16, 0L);
    int size = sizeOf(keyCount);
    buf.set(U32, off, Meta.crc(buf, off, size));
    return size;
  }

  /** Writes a LAST kset pointing to kset segment {@code nextSegId}; 24 bytes. */
  public static void encodeLast(MemorySegment buf, long off, int nextSegId) {
    buf.set(U32, off + 4, nextSegId);
    buf.set(U64, off + 8, Layout.KSET_MAGIC);
    buf.set(U64, off + 16, Layout.KSET_F_LAST);
    buf.set(U32, off, Meta.crc(buf, off, Layout.KSET_HEADER_SIZE));
  }
}
