package io.pcache.core.format;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The Linux kernel's {@code crc32c(seed, buf, len)}: the raw reflected Castagnoli register update
 * (polynomial 0x82F63B78) starting from {@code seed}, with <b>no</b> initial or final inversion.
 * {@link java.util.zip.CRC32C} inverts both, so it cannot be used for dm-pcache's on-media CRCs.
 *
 * <p>Test vectors (spec §1.1): {@code update(0xFFFFFFFF, "123456789") == 0x1CF96D7C} (the standard
 * CRC32C 0xE3069283 before its final inversion); {@code update(0x3B15A, "123456789") == 0xE5868AB2}.
 *
 * <h2>Implementation notes</h2>
 *
 * Slicing-by-8 over 8-byte little-endian words read from the segment: 8 table look-ups per 8
 * bytes. The relation raw(seed, x) = ~CRC32C_jdk(x) when seeded with ~seed would let the JDK's
 * intrinsic do the work; {@link #update} uses it for long inputs (data CRCs of 4 KiB and more),
 * where it runs at several GB/s, and the tables for the short metadata structs.
 */
public final class Crc32c {

  /** dm-pcache's seed for every CRC (PCACHE_CRC_SEED). */
  public static final int PCACHE_SEED = 0x3B15A;

  private static final int POLY = 0x82F63B78;
  private static final int[][] TABLES = new int[8][256];
  private static final ValueLayout.OfLong LONG_LE =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final int INTRINSIC_THRESHOLD = 256;

  static {
    for (int n = 0; n < 256; n++) {
      int c = n;
      for (int k = 0; k < 8; k++) {
        c = (c & 1) != 0 ? (c >>> 1) ^ POLY : c >>> 1;
      }
      TABLES[0][n] = c;
    }
    for (int n = 0; n < 256; n++) {
      int c = TABLES[0][n];
      for (int t = 1; t < 8; t++) {
        c = TABLES[0][c & 0xFF] ^ (c >>> 8);
        TABLES[t][n] = c;
      }
    }
  }

  private Crc32c() {}

  /** The raw CRC register after feeding {@code length} bytes of {@code data} at {@code offset}. */
  public static int update(int seed, MemorySegment data, long offset, long length) {
    if (length >= INTRINSIC_THRESHOLD) {
      // raw(seed, x) == ~jdk(x) where the JDK's register starts at ~seed: seed ~seed by feeding
      // nothing is impossible through the public API, so combine via the identity below.
      return intrinsic(seed, data, offset, length);
    }
    int crc = seed;
    long i = offset;
    long end = offset + length;
    while (end - i >= 8) {
      long w = data.get(LONG_LE, i) ^ (crc & 0xFFFFFFFFL);
      crc = TABLES[7][(int) (w & 0xFF)] ^ TABLES[6][(int) ((w >>> 8) & 0xFF)]
          ^ TABLES[5][(int) ((w >>> 16) & 0xFF)] ^ TABLES[4][(int) ((w >>> 24) & 0xFF)]
          ^ TABLES[3][(int) ((w >>> 32) & 0xFF)] ^ TABLES[2][(int) ((w >>> 40) & 0xFF)]
          ^ TABLES[1][(int) ((w >>> 48) & 0xFF)] ^ TABLES[0][(int) (w >>> 56)];
      i += 8;
    }
    while (i < end) {
      crc = TABLES[0][(crc ^ data.get(ValueLayout.JAVA_BYTE, i)) & 0xFF] ^ (crc >>> 8);
      i++;
    }
    return crc;
  }

  /** The raw CRC of a whole byte array. */
  public static int update(int seed, byte[] data) {
    return update(seed, MemorySegment.ofArray(data), 0, data.length);
  }

  /**
   * Long inputs through the JDK's intrinsic CRC32C. The JDK computes {@code ~raw(~0, x)}; with a
   * register preset to {@code s} it would compute {@code ~raw(s, x)}. The JDK cannot be preset, but
   * CRC is affine: {@code raw(seed, x) = raw(0, x) ^ raw(seed, zeros(len))}, and
   * {@code raw(~0, x) = raw(0, x) ^ raw(~0, zeros(len))}. So
   * {@code raw(seed, x) = ~jdk(x) ^ raw(~0, zeros) ^ raw(seed, zeros)}, where the last two terms
   * are computed by shifting the registers through {@code len} zero bytes ({@link #shift}).
   */
  private static int intrinsic(int seed, MemorySegment data, long offset, long length) {
    java.util.zip.CRC32C jdk = JDK.get();
    jdk.reset();
    jdk.update(data.asSlice(offset, length).asByteBuffer());
    int rawAllOnes = ~(int) jdk.getValue();
    return rawAllOnes ^ seedTerm(seed, length);
  }

  /**
   * {@code shift(~seed, length)}, the term {@link #intrinsic} adds. For pcache's seed and whole
   * sectors up to 64 KiB (every data CRC of a write, with data CRCs on) it is looked up: the data
   * CRC of a 4 KiB write is on the write path, and the matrix product and the checksum object cost
   * 30-50 ns of its ~200 (BENCHMARKS.md, "Data CRCs").
   */
  private static int seedTerm(int seed, long length) {
    if (seed == PCACHE_SEED && length % 512 == 0 && length <= SEED_TERMS.length * 512L) {
      int i = (int) (length / 512) - 1;
      long t = SEED_TERMS[i];
      if (t == 0) {
        t = (1L << 32) | Integer.toUnsignedLong(shift(0xFFFFFFFF ^ seed, length));
        SEED_TERMS[i] = t; // racy but idempotent: every thread computes the same value
      }
      return (int) t;
    }
    return shift(0xFFFFFFFF ^ seed, length);
  }

  /** Looked-up seed terms by sector count (bit 32 set once computed). */
  private static final long[] SEED_TERMS = new long[128];

  /** One checksum object per thread: {@code update(ByteBuffer)} on it is the JDK's intrinsic. */
  private static final ThreadLocal<java.util.zip.CRC32C> JDK = ThreadLocal.withInitial(java.util.zip.CRC32C::new);

  /** The raw CRC of {@code n} zero bytes from {@code seed}, in O(log n) without touching memory. */
  public static int ofZeros(int seed, long n) {
    return shift(seed, n);
  }

  /**
   * The register {@code reg} after {@code n} zero bytes. Feeding zeros is a linear map of the
   * register; {@link #ZERO_OPS}[k] is its 32x32 bit matrix for 2^k bytes (built once by squaring,
   * as zlib's crc32_combine does), so a shift costs one matrix-vector product per set bit of n.
   */
  static int shift(int reg, long n) {
    int crc = reg;
    for (int k = 0; n != 0; k++, n >>>= 1) {
      if ((n & 1) != 0) {
        crc = times(ZERO_OPS[k], crc);
      }
    }
    return crc;
  }

  /** ZERO_OPS[k]: the operator for 2^k zero bytes, k = 0..62. */
  private static final int[][] ZERO_OPS = new int[63][];

  static {
    int[] op = new int[32]; // one zero bit
    op[0] = POLY;
    for (int i = 1; i < 32; i++) {
      op[i] = 1 << (i - 1);
    }
    for (int bits = 0; bits < 3; bits++) { // 2, 4, 8 zero bits
      int[] sq = new int[32];
      square(sq, op);
      op = sq;
    }
    ZERO_OPS[0] = op;
    for (int k = 1; k < ZERO_OPS.length; k++) {
      int[] sq = new int[32];
      square(sq, ZERO_OPS[k - 1]);
      ZERO_OPS[k] = sq;
    }
  }

  private static int times(int[] mat, int vec) {
    int sum = 0;
    int i = 0;
    while (vec != 0) {
      if ((vec & 1) != 0) {
        sum ^= mat[i];
      }
      vec >>>= 1;
      i++;
    }
    return sum;
  }

  private static void square(int[] square, int[] mat) {
    for (int n = 0; n < 32; n++) {
      square[n] = times(mat, mat[n]);
    }
  }
}
