package io.pcache.core.format;

import static io.pcache.core.format.Meta.U16;
import static io.pcache.core.format.Meta.U32;
import static io.pcache.core.format.Meta.U64;

import io.pcache.api.backing.BackingIdentity;
import io.pcache.api.media.CacheMedia;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * pcache's own record of the backing device a cache belongs to ({@link BackingIdentity}), in the
 * first 4096 bytes of the cache device.
 *
 * <h2>Where, and why there</h2>
 *
 * dm-pcache's format starts at byte 4096 (the superblock, {@link Layout#SB_OFF}); bytes 0..4095
 * are neither read, written nor checked by the kernel: its {@code drivers/md/dm-pcache/cache_dev.c}
 * addresses the superblock at {@code PCACHE_SB_OFF} = 4096 and everything else after it, and its
 * format ({@code sb_init}) zeroes only cache_info and cache_ctrl. So a record
 * there keeps the device byte-compatible with the kernel in both directions: the kernel opens a
 * cache that carries one, and a cache the kernel formatted simply has none. {@code pcache format}
 * does not write it either (a fresh format stays identical to the kernel's); the engine writes it
 * at the first start with a backing device. A format does not clear it, so a record may be older
 * than the cache's content: the engine handles that (an empty cache is simply re-recorded).
 *
 * <p>The kernel does not update it: a cache used by dm-pcache with another backing device in
 * between still names the one pcache saw last.
 *
 * <h2>Layout</h2>
 *
 * Two replicas of {@value #SLOT_SIZE} bytes at offsets 0 and {@value #SLOT_SIZE}, little-endian:
 *
 * <pre>
 * +0  u32 crc       CRC32C, dm-pcache's (seed 0x3B15A, no inversion) of bytes [4, 2048)
 * +4  u32 seq       the replica with the higher seq is the latest
 * +8  u64 magic     "PCBKID01" (0x313044494B424350)
 * +16 u16 version   1
 * +18 u16 kind length, +20 u16 id length, +22 u16 description length (UTF-8 bytes)
 * +24 u64 size      the backing device's size in bytes
 * +32 u64 recorded  when, in milliseconds since the epoch
 * +40 kind, id, description; zero up to 2048
 * </pre>
 *
 * <h2>Crash safety</h2>
 *
 * An update writes both replicas, the older first, and each in three persisted steps: its magic
 * cleared (one aligned 8-byte store), then everything else, then the magic. A replica with the
 * magic is therefore always complete, and a power cut leaves each replica either as it was, or
 * without magic (not there), or new; the other replica still holds the old or the new record.
 * A replica with the magic whose CRC does not match is damaged media: {@link Status#CORRUPT}
 * when no other replica is valid.
 */
public final class BackingRecord {

  /** The size of one replica; replica 1 starts there. */
  public static final int SLOT_SIZE = 2048;
  /** "PCBKID01" read as a little-endian u64. */
  public static final long MAGIC = 0x313044494B424350L;
  /** The version this code writes and reads. */
  public static final int VERSION = 1;

  private static final int HEADER = 40;
  private static final int KIND_MAX = 32;
  private static final long MAGIC_OFF = 8;

  private BackingRecord() {}

  /** What the area holds. */
  public enum Status {
    /** No replica has the magic: never recorded (a cache formatted by dm-pcache or an older pcache). */
    ABSENT,
    /** At least one valid replica. */
    VALID,
    /** Replicas with the magic, none valid: the record is damaged. */
    CORRUPT,
    /** A replica of a later version than {@value #VERSION}: written by a newer pcache. */
    TOO_NEW
  }

  /**
   * A valid replica's content.
   *
   * @param recordedMillis when it was written, in milliseconds since the epoch
   */
  public record Stored(long seq, BackingIdentity identity, long recordedMillis) {}

  /**
   * What {@link #load} found.
   *
   * @param stored the latest valid replica, or null
   * @param problems what is wrong with the replicas that are not valid, naming their offsets
   */
  public record Found(Status status, Stored stored, List<String> problems) {}

  /** Reads both replicas. Never throws for what it finds: see {@link Found#status()}. */
  public static Found load(CacheMedia media) {
    MemorySegment buf = Arena.ofAuto().allocate(SLOT_SIZE, 8);
    Stored best = null;
    boolean tooNew = false;
    boolean corrupt = false;
    List<String> problems = new ArrayList<>();
    for (int slot = 0; slot < 2; slot++) {
      long at = (long) slot * SLOT_SIZE;
      media.read(at, buf);
      if (buf.get(U64, MAGIC_OFF) != MAGIC) {
        continue;
      }
      int version = Short.toUnsignedInt(buf.get(U16, 16));
      int crc = buf.get(U32, 0);
      int expected = Meta.crc(buf, 0, SLOT_SIZE);
      if (crc != expected) {
        corrupt = true;
        problems.add("backing record at offset " + at + ": CRC 0x" + Integer.toHexString(crc) + " does not match its content (0x"
            + Integer.toHexString(expected) + ")");
        continue;
      }
      if (version > VERSION) {
        tooNew = true;
        problems.add("backing record at offset " + at + " is version " + version + ", written by a newer pcache (this one reads "
            + VERSION + ")");
        continue;
      }
      try {
        Stored s = decode(buf, version);
        if (best == null || Integer.compareUnsigned((int) s.seq(), (int) best.seq()) > 0) {
          best = s;
        }
      } catch (IllegalArgumentException e) {
        corrupt = true;
        problems.add("backing record at offset " + at + " has a valid CRC but cannot be decoded: " + e.getMessage());
      }
    }
    Status status = tooNew ? Status.TOO_NEW : best != null ? Status.VALID : corrupt ? Status.CORRUPT : Status.ABSENT;
    return new Found(status, status == Status.VALID ? best : null, List.copyOf(problems));
  }

  private static Stored decode(MemorySegment buf, int version) {
    if (version < 1) {
      throw new IllegalArgumentException("version " + version);
    }
    int kindLen = Short.toUnsignedInt(buf.get(U16, 18));
    int idLen = Short.toUnsignedInt(buf.get(U16, 20));
    int descLen = Short.toUnsignedInt(buf.get(U16, 22));
    if (kindLen > KIND_MAX || idLen > BackingIdentity.ID_MAX_BYTES || descLen > BackingIdentity.DESCRIPTION_MAX_BYTES) {
      throw new IllegalArgumentException("field lengths " + kindLen + "/" + idLen + "/" + descLen + " exceed their limits");
    }
    long off = HEADER;
    String kind = string(buf, off, kindLen);
    String id = string(buf, off += kindLen, idLen);
    String description = string(buf, off + idLen, descLen);
    long size = buf.get(U64, 24);
    return new Stored(Integer.toUnsignedLong(buf.get(U32, 4)), new BackingIdentity(kind, id, size, description), buf.get(U64, 32));
  }

  private static String string(MemorySegment buf, long off, int len) {
    return new String(buf.asSlice(off, len).toArray(Meta.U8), StandardCharsets.UTF_8);
  }

  /**
   * Records {@code identity} in both replicas (seq {@code previous + 1} in the older, {@code
   * previous + 2} in the other), each persisted before this returns. The description is cut to
   * {@link BackingIdentity#DESCRIPTION_MAX_BYTES} bytes.
   *
   * @param previous what {@link #load} returned before (to continue its seq and write its older
   *     replica first)
   * @param nowMillis the time to record
   * @throws IOException when the media cannot persist it
   */
  public static void write(CacheMedia media, Found previous, BackingIdentity identity, long nowMillis) throws IOException {
    long seq = previous.stored() == null ? 0 : previous.stored().seq();
    // The replica that does not hold the latest record goes first; both hold the same after.
    int latestSlot = latestSlot(media, previous);
    MemorySegment buf = Arena.ofAuto().allocate(SLOT_SIZE, 8);
    for (int i = 1; i <= 2; i++) {
      int slot = (latestSlot + i) % 2;
      encode(buf, seq + i, identity, nowMillis);
      writeSlot(media, (long) slot * SLOT_SIZE, buf);
    }
  }

  private static int latestSlot(CacheMedia media, Found previous) {
    if (previous.stored() == null) {
      return 1; // replica 0 first
    }
    MemorySegment buf = Arena.ofAuto().allocate(SLOT_SIZE, 8);
    for (int slot = 0; slot < 2; slot++) {
      media.read((long) slot * SLOT_SIZE, buf);
      if (buf.get(U64, MAGIC_OFF) == MAGIC && buf.get(U32, 0) == Meta.crc(buf, 0, SLOT_SIZE)
          && Integer.toUnsignedLong(buf.get(U32, 4)) == previous.stored().seq()) {
        return slot;
      }
    }
    return 1;
  }

  private static void encode(MemorySegment buf, long seq, BackingIdentity identity, long nowMillis) {
    byte[] kind = identity.kind().getBytes(StandardCharsets.UTF_8);
    byte[] id = identity.id().getBytes(StandardCharsets.UTF_8);
    byte[] description = cut(identity.description(), BackingIdentity.DESCRIPTION_MAX_BYTES);
    buf.fill((byte) 0);
    buf.set(U32, 4, (int) seq);
    buf.set(U64, MAGIC_OFF, MAGIC);
    buf.set(U16, 16, (short) VERSION);
    buf.set(U16, 18, (short) kind.length);
    buf.set(U16, 20, (short) id.length);
    buf.set(U16, 22, (short) description.length);
    buf.set(U64, 24, identity.size());
    buf.set(U64, 32, nowMillis);
    long off = HEADER;
    MemorySegment.copy(kind, 0, buf, Meta.U8, off, kind.length);
    MemorySegment.copy(id, 0, buf, Meta.U8, off += kind.length, id.length);
    MemorySegment.copy(description, 0, buf, Meta.U8, off + id.length, description.length);
    buf.set(U32, 0, Meta.crc(buf, 0, SLOT_SIZE));
  }

  /** The first bytes of {@code s} in UTF-8, at most {@code max}, cut between characters. */
  private static byte[] cut(String s, int max) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    if (b.length <= max) {
      return b;
    }
    int n = max;
    while (n > 0 && (b[n] & 0xC0) == 0x80) {
      n--;
    }
    return Arrays.copyOf(b, n);
  }

  /** Magic off (persisted), the rest (persisted), magic on (persisted): see the class notes. */
  private static void writeSlot(CacheMedia media, long at, MemorySegment slot) throws IOException {
    MemorySegment word = Arena.ofAuto().allocate(8, 8);
    media.write(at + MAGIC_OFF, word);
    media.persist(at + MAGIC_OFF, 8);
    MemorySegment withoutMagic = Arena.ofAuto().allocate(SLOT_SIZE, 8);
    withoutMagic.copyFrom(slot);
    withoutMagic.set(U64, MAGIC_OFF, 0L);
    media.write(at, withoutMagic);
    media.persist(at, SLOT_SIZE);
    word.set(U64, 0, MAGIC);
    media.write(at + MAGIC_OFF, word);
    media.persist(at + MAGIC_OFF, 8);
  }

  /** One line for {@code pcache status} and {@code check}: {@code backing: file dev 8:1 ino 12, ...}. */
  public static String describe(Found found) {
    return switch (found.status()) {
      case ABSENT -> "backing: no identity recorded (recorded at the next start with a backing device)";
      case VALID -> "backing: " + found.stored().identity() + " (recorded " + java.time.Instant.ofEpochMilli(found.stored().recordedMillis())
          + ")";
      case CORRUPT -> "backing: the identity record is corrupt: " + String.join("; ", found.problems());
      case TOO_NEW -> "backing: " + String.join("; ", found.problems());
    };
  }
}
