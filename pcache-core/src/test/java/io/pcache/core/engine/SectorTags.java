package io.pcache.core.engine;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Self-identifying sector content for engine tests: every 512-byte sector written by a test holds
 * the <em>tag</em> of the write that produced it (a unique number per write), the sector's own
 * number, and 62 words derived from both. Reading a sector back tells exactly which write it came
 * from, and whether it is that write's data for that very sector (not another sector's, not torn,
 * not garbage). Tag 0 is the all-zero sector (initial content, discard, write-zeroes).
 */
final class SectorTags {

  static final int SECTOR = 512;
  private static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED;

  /** What a sector holds that is not the data of any write: torn, foreign or another sector's data. */
  static final long GARBAGE = -1;

  private SectorTags() {}

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  private static long seed(long tag, long sector) {
    return tag * 0x9E3779B97F4A7C15L + sector * 0xC2B2AE3D27D4EB4FL;
  }

  /** Fills {@code sectors} sectors of {@code buf} from {@code bufOff} with the content of {@code tag} for the sectors starting at {@code firstSector}. */
  static void fill(MemorySegment buf, long bufOff, long tag, long firstSector, int sectors) {
    for (int i = 0; i < sectors; i++) {
      long at = bufOff + (long) i * SECTOR;
      long sector = firstSector + i;
      if (tag == 0) {
        buf.asSlice(at, SECTOR).fill((byte) 0);
        continue;
      }
      buf.set(WORD, at, tag);
      buf.set(WORD, at + 8, sector);
      long x = seed(tag, sector);
      for (int w = 2; w < SECTOR / 8; w++) {
        x += 0x9E3779B97F4A7C15L;
        buf.set(WORD, at + w * 8L, mix(x));
      }
    }
  }

  /** The tag of the sector at {@code bufOff} that should be sector number {@code sector}, or {@link #GARBAGE}. */
  static long tagOf(MemorySegment buf, long bufOff, long sector) {
    long tag = buf.get(WORD, bufOff);
    if (tag == 0) {
      for (int w = 1; w < SECTOR / 8; w++) {
        if (buf.get(WORD, bufOff + w * 8L) != 0) {
          return GARBAGE;
        }
      }
      return 0;
    }
    if (tag < 0 || buf.get(WORD, bufOff + 8) != sector) {
      return GARBAGE;
    }
    long x = seed(tag, sector);
    for (int w = 2; w < SECTOR / 8; w++) {
      x += 0x9E3779B97F4A7C15L;
      if (buf.get(WORD, bufOff + w * 8L) != mix(x)) {
        return GARBAGE;
      }
    }
    return tag;
  }

  /** For messages: the first words of a sector. */
  static String describe(MemorySegment buf, long bufOff) {
    return String.format("[%016x %016x %016x ...]", buf.get(WORD, bufOff), buf.get(WORD, bufOff + 8),
        buf.get(WORD, bufOff + 16));
  }
}
