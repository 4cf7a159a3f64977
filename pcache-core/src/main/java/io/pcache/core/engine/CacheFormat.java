package io.pcache.core.engine;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.format.CacheInfo;
import io.pcache.core.format.Layout;
import io.pcache.core.format.Replicas;
import io.pcache.core.format.Superblock;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;

/**
 * Recognising and formatting a cache device: the superblock, cache_info and the segment chain.
 *
 * <p>Every refusal says what was found and what to do: a device smaller than 512 MiB, a foreign
 * superblock (non-zero bytes but no pcache magic), a corrupt one (bad CRC), one written by a
 * big-endian host, a segment count that does not fit the device, a {@code data_crc} setting that
 * differs from the formatted one.
 */
public final class CacheFormat {

  /** What the superblock area holds. */
  public enum State {
    /** All zero: a blank device, formatted automatically on start. */
    BLANK,
    /** A valid pcache superblock. */
    PCACHE
  }

  private CacheFormat() {}

  /**
   * Inspects the superblock.
   *
   * @throws IOException for a device that is too small, foreign, corrupt or of the other byte order
   */
  public static State inspect(CacheMedia media) throws IOException {
    if (media.size() < Layout.CACHE_DEV_SIZE_MIN) {
      throw new IOException("cache " + media.name() + " is " + media.size() + " bytes; dm-pcache needs at least "
          + Layout.CACHE_DEV_SIZE_MIN + " (512 MiB): use a larger file or device (cache.size)");
    }
    MemorySegment area = Arena.ofAuto().allocate(Layout.SB_SIZE, 8);
    media.read(Layout.SB_OFF, area);
    Superblock sb = Superblock.decode(area, 0);
    if (sb.magic() == 0) {
      long nonZero = area.mismatch(Arena.ofAuto().allocate(Layout.SB_SIZE, 8));
      if (nonZero < 0 || interruptedFormat(area)) {
        return State.BLANK;
      }
      throw new IOException("cache " + media.name() + " holds data at its superblock (offset "
          + (Layout.SB_OFF + nonZero) + ") but no pcache magic: it is not a pcache device; if its content can go, run "
          + "'pcache format --force --cache " + media.name() + "'");
    }
    if (sb.magic() != Layout.SB_MAGIC) {
      if (Long.reverseBytes(sb.magic()) == Layout.SB_MAGIC) {
        throw new IOException("cache " + media.name() + " was formatted by a big-endian host (byte-swapped magic); "
            + "dm-pcache devices cannot move between byte orders: reformat it with 'pcache format --force'");
      }
      throw new IOException("cache " + media.name() + " has a foreign superblock (magic 0x" + Long.toHexString(sb.magic())
          + " at offset " + Layout.SB_OFF + ", expected 0x" + Long.toHexString(Layout.SB_MAGIC)
          + "): it is not a pcache device; if its content can go, run 'pcache format --force --cache " + media.name() + "'");
    }
    if (!Superblock.crcValid(area, 0)) {
      throw new IOException("cache " + media.name() + " has a corrupt superblock (CRC 0x"
          + Integer.toHexString(Superblock.storedCrc(area, 0)) + " does not match its content at offset " + Layout.SB_OFF
          + "); run 'pcache check' to see more, or reformat with 'pcache format --force' (cached data is lost)");
    }
    if ((sb.flags() & Layout.SB_F_BIGENDIAN) != 0) {
      throw new IOException("cache " + media.name() + " was formatted by a big-endian host (superblock flag BIGENDIAN); "
          + "this host is little-endian: reformat it with 'pcache format --force'");
    }
    long fits = Layout.segmentsFor(media.size());
    if (sb.segNum() <= 0 || sb.segNum() > fits || sb.segNum() > Layout.CACHE_SEGS_MAX) {
      throw new IOException("cache " + media.name() + " superblock says " + Integer.toUnsignedString(sb.segNum())
          + " segments, but the device holds " + fits + " (at most " + Layout.CACHE_SEGS_MAX
          + "): was the file truncated? reformat with 'pcache format --force'");
    }
    return State.PCACHE;
  }

  /** The segment count from a valid superblock. */
  static int segNum(CacheMedia media) {
    MemorySegment sb = Arena.ofAuto().allocate(Layout.SB_STRUCT_SIZE, 8);
    media.read(Layout.SB_OFF, sb);
    return Superblock.decode(sb, 0).segNum();
  }

  /**
   * Writes a new, empty cache: zeroes the superblock, cache_info and cache_ctrl areas, formats
   * every segment and the tails, writes cache_info (INIT_DONE, gc_percent) and, last, the
   * superblock, its magic word last. A crash at any point leaves either a superblock area without
   * magic (a blank device, formatted again on the next start) or a complete new cache.
   */
  public static void format(CacheMedia media, boolean dataCrc, int gcPercent) throws IOException {
    if (media.size() < Layout.CACHE_DEV_SIZE_MIN) {
      throw new IOException("cache " + media.name() + " is " + media.size() + " bytes; dm-pcache needs at least "
          + Layout.CACHE_DEV_SIZE_MIN + " (512 MiB)");
    }
    long segs = Math.min(Layout.segmentsFor(media.size()), Layout.CACHE_SEGS_MAX);
    MemorySegment zero = Arena.ofAuto().allocate(Layout.SEGMENTS_OFF - Layout.SB_OFF, 4096);
    media.write(Layout.SB_OFF, zero);
    media.persist(Layout.SB_OFF, zero.byteSize());
    Segments segments = new Segments(media, (int) segs, id -> { }, () -> { });
    segments.format();
    KeyLog log = new KeyLog(media, segments.map(), Duration.ZERO);
    log.format();
    Replicas<CacheInfo> info = cacheInfoReplicas(media);
    info.reset();
    CacheInfo done = CacheInfo.fresh((int) segs, dataCrc).withGcPercent(gcPercent)
        .withFlag(Layout.CACHE_INFO_F_INIT_DONE, true);
    info.update(done); // seq 1 in slot 1
    info.update(done); // seq 2 in slot 0: both replicas valid from the start
    // The superblock last, in two steps: everything but the magic, then the magic alone (one
    // aligned 8-byte store, which a power cut cannot tear). A cut before the magic is durable
    // leaves no magic and at most the superblock's other words: inspect() sees a blank device.
    // (Written in one go, a cut could keep the magic but not the CRC: a "corrupt" device that
    // never held data and refuses to start.)
    MemorySegment sb = Arena.ofAuto().allocate(Layout.SB_STRUCT_SIZE, 8);
    new Superblock(0, Layout.SB_MAGIC, (int) segs).encode(sb, 0);
    MemorySegment magic = Arena.ofAuto().allocate(8, 8);
    MemorySegment.copy(sb, MAGIC_OFF, magic, 0, 8);
    sb.set(ValueLayout.JAVA_LONG_UNALIGNED, MAGIC_OFF, 0L);
    media.write(Layout.SB_OFF, sb);
    media.persist(Layout.SB_OFF, Layout.SB_STRUCT_SIZE);
    media.write(Layout.SB_OFF + MAGIC_OFF, magic);
    media.persist(Layout.SB_OFF + MAGIC_OFF, 8);
  }

  /** Offset of the magic in the superblock. */
  private static final long MAGIC_OFF = 8;

  /**
   * Whether a superblock area without magic is what a format leaves when the power goes before its
   * last step: non-zero bytes only in the superblock's other words (crc, flags, seg_num).
   */
  private static boolean interruptedFormat(MemorySegment area) {
    for (long i = Layout.SB_STRUCT_SIZE; i < area.byteSize(); i += 8) {
      if (area.get(ValueLayout.JAVA_LONG_UNALIGNED, i) != 0) {
        return false;
      }
    }
    return true;
  }

  static Replicas<CacheInfo> cacheInfoReplicas(CacheMedia media) {
    return new Replicas<>(media, Layout.CACHE_INFO_OFF, Layout.CACHE_INFO_SIZE, Layout.CACHE_INFO_STRUCT_SIZE,
        CacheInfo::decode);
  }

  /**
   * Whether the log holds at least one valid kset at key_tail: then the device may hold dirty
   * data, and a missing cache_info must not be "repaired" by formatting it away.
   */
  static boolean logHoldsKsets(CacheMedia media) {
    Replicas<io.pcache.core.format.CachePos> tail = new Replicas<>(media, Layout.CACHE_CTRL_OFF, Layout.POS_STRUCT_SIZE,
        Layout.POS_STRUCT_SIZE, io.pcache.core.format.CachePos::decode);
    return tail.load().map(p -> {
      if (p.segId() < 0 || p.segId() >= segNum(media) || Integer.toUnsignedLong(p.segOff()) >= Layout.SEG_DATA_SIZE) {
        return false;
      }
      MemorySegment buf = Arena.ofAuto().allocate(Layout.KSET_SIZE_MAX, 8);
      long available = Math.min(buf.byteSize(), Layout.SEG_DATA_SIZE - Integer.toUnsignedLong(p.segOff()));
      media.read(Layout.dataOffset(p.segId(), p.segOff()), buf.asSlice(0, available));
      return io.pcache.core.format.Kset.check(buf, 0, available) == io.pcache.core.format.Kset.Check.VALID;
    }).orElse(false);
  }

  /** Reads the latest valid cache_info, if any. */
  public static java.util.Optional<CacheInfo> cacheInfo(CacheMedia media) {
    return cacheInfoReplicas(media).load();
  }

}
