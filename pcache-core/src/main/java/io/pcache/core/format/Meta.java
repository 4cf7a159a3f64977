package io.pcache.core.format;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Little-endian field access and dm-pcache's metadata CRC. Every CRC covers the struct minus its
 * first four bytes (the crc field itself), padding included as it is on media.
 */
public final class Meta {

  public static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  public static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  public static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  public static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;

  private Meta() {}

  /** The CRC of the {@code size}-byte struct at {@code offset}: bytes [4, size) with seed 0x3B15A. */
  public static int crc(MemorySegment buf, long offset, int size) {
    return Crc32c.update(Crc32c.PCACHE_SEED, buf, offset + 4, size - 4);
  }

  /** Whether a sequence number is "after" another: signed 8-bit difference, wrap-safe. */
  public static boolean seqAfter(int a, int b) {
    return (byte) (a - b) > 0;
  }
}
