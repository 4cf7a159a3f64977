package io.pcache.core.engine;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.format.CacheInfo;
import io.pcache.core.format.CachePos;
import io.pcache.core.format.Meta;
import io.pcache.core.format.SegGen;
import io.pcache.core.format.Layout;
import io.pcache.core.format.Replicas;
import io.pcache.core.format.Superblock;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

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
    /**
     * A blank device, formatted automatically on start: no superblock magic, and nothing else
     * that a used pcache leaves (see {@link #pcacheTraces}).
     */
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
      if (nonZero >= 0 && !interruptedFormat(area)) {
        throw new CacheRefusedException("cache " + media.name() + " holds data at its superblock (offset "
            + (Layout.SB_OFF + nonZero) + ") but no pcache magic: it is not a pcache device; if its content can go, run "
            + "'pcache format --force --cache " + media.name() + "'");
      }
      List<String> found = pcacheTraces(media);
      if (found.isEmpty()) {
        return State.BLANK;
      }
      throw new CacheRefusedException("cache " + media.name() + ": the superblock magic (offset " + (Layout.SB_OFF + MAGIC_OFF)
          + ") is zero but " + String.join(", ", found) + ": this looks like a pcache with a damaged superblock, not a"
          + " blank device, so it is not formatted. Nothing was changed. 'pcache check --cache " + media.name()
          + "' shows more; 'pcache check --repair --cache " + media.name() + "' rebuilds the superblock from the device"
          + " size and cache_info; 'pcache format --force --cache " + media.name() + "' formats it (cached data is lost)");
    }
    if (sb.magic() != Layout.SB_MAGIC) {
      if (Long.reverseBytes(sb.magic()) == Layout.SB_MAGIC) {
        throw new CacheRefusedException("cache " + media.name() + " was formatted by a big-endian host (byte-swapped magic); "
            + "dm-pcache devices cannot move between byte orders: reformat it with 'pcache format --force'");
      }
      throw new CacheRefusedException("cache " + media.name() + " has a foreign superblock (magic 0x" + Long.toHexString(sb.magic())
          + " at offset " + Layout.SB_OFF + ", expected 0x" + Long.toHexString(Layout.SB_MAGIC)
          + "): it is not a pcache device; if its content can go, run 'pcache format --force --cache " + media.name() + "'");
    }
    if (!Superblock.crcValid(area, 0)) {
      throw new CacheRefusedException("cache " + media.name() + " has a corrupt superblock (CRC 0x"
          + Integer.toHexString(Superblock.storedCrc(area, 0)) + " does not match its content at offset " + Layout.SB_OFF
          + "); nothing was changed: 'pcache check --repair' rebuilds it from cache_info when that is intact, or reformat with"
          + " 'pcache format --force' (cached data is lost)");
    }
    if ((sb.flags() & Layout.SB_F_BIGENDIAN) != 0) {
      throw new CacheRefusedException("cache " + media.name() + " was formatted by a big-endian host (superblock flag BIGENDIAN); "
          + "this host is little-endian: reformat it with 'pcache format --force'");
    }
    long fits = Layout.segmentsFor(media.size());
    if (sb.segNum() <= 0 || sb.segNum() > fits || sb.segNum() > Layout.CACHE_SEGS_MAX) {
      throw new CacheRefusedException("cache " + media.name() + " superblock says " + Integer.toUnsignedString(sb.segNum())
          + " segments, but the device holds " + fits + " (at most " + Layout.CACHE_SEGS_MAX
          + "): was the file truncated? reformat with 'pcache format --force'");
    }
    return State.PCACHE;
  }

  /**
   * What on a device without superblock magic says it was a pcache in use, as phrases for an error;
   * empty when the device is blank: its metadata area (the superblock's other words aside:
   * cache_info, cache_ctrl, segment 0's segment_info and seg_gen) is all zero, or holds exactly
   * what a format writes before its last step (cache_info seq 1-2, both tails at 0:0 with seq 1,
   * generation 0, no kset at 0:0) — a format interrupted before the magic, where nothing can have
   * been cached. A cache that was ever started has cache_info rewritten (seq 3 on), and one that
   * ever held a kset has one at 0:0 or tails that moved.
   */
  static List<String> pcacheTraces(CacheMedia media) {
    List<String> found = new ArrayList<>();
    long metaEnd = Math.min(media.size(), Layout.SEGMENTS_OFF + Layout.SEG_DATA_OFF);
    if (isZero(readAt(media, Layout.SB_OFF + Layout.SB_STRUCT_SIZE, metaEnd - Layout.SB_OFF - Layout.SB_STRUCT_SIZE))) {
      return found; // the whole metadata area is zero: blank
    }
    for (int i = 0; i < Layout.META_INDEX_MAX; i++) {
      long at = Layout.CACHE_INFO_OFF + i * Layout.CACHE_INFO_SIZE;
      MemorySegment b = readAt(media, at, Layout.CACHE_INFO_STRUCT_SIZE);
      if (isZero(b)) {
        continue;
      }
      if (b.get(Meta.U32, 0) != Meta.crc(b, 0, Layout.CACHE_INFO_STRUCT_SIZE)) {
        found.add("cache_info replica " + i + " at offset " + at + " is not zero (bad CRC)");
        continue;
      }
      CacheInfo info = CacheInfo.decode(b, 0);
      if (info.seq() > 2) {
        found.add("cache_info replica " + i + " is valid (seq " + info.seq() + ", " + info.nSegs() + " segments)");
      }
    }
    String[] tails = {"key_tail", "key_tail", "dirty_tail", "dirty_tail"};
    for (int i = 0; i < 4; i++) {
      long at = Layout.CACHE_CTRL_OFF + (long) i * Layout.POS_STRUCT_SIZE;
      MemorySegment b = readAt(media, at, Layout.POS_STRUCT_SIZE);
      if (isZero(b)) {
        continue;
      }
      if (b.get(Meta.U32, 0) != Meta.crc(b, 0, Layout.POS_STRUCT_SIZE)) {
        found.add(tails[i] + " replica " + (i % 2) + " at offset " + at + " is not zero (bad CRC)");
        continue;
      }
      CachePos p = CachePos.decode(b, 0);
      if (p.seq() > 1 || p.segId() != 0 || p.segOff() != 0) {
        found.add(tails[i] + " replica " + (i % 2) + " is valid (segment " + Integer.toUnsignedString(p.segId())
            + " offset " + Integer.toUnsignedString(p.segOff()) + ", seq " + p.seq() + ")");
      }
    }
    if (media.size() >= Layout.SEGMENTS_OFF + Layout.SEG_SIZE) {
      for (int i = 0; i < Layout.META_INDEX_MAX; i++) {
        long at = Layout.segmentOffset(0) + Layout.SEG_CTRL_OFF + (long) i * Layout.SEG_GEN_STRUCT_SIZE;
        MemorySegment b = readAt(media, at, Layout.SEG_GEN_STRUCT_SIZE);
        if (!isZero(b) && (b.get(Meta.U32, 0) != Meta.crc(b, 0, Layout.SEG_GEN_STRUCT_SIZE)
            || SegGen.decode(b, 0).gen() != 0)) {
          found.add("segment 0's seg_gen replica " + i + " at offset " + at + " is not that of a fresh format");
        }
      }
      MemorySegment first = readAt(media, Layout.dataOffset(0, 0), Layout.KSET_SIZE_MAX);
      if (!isZero(first.asSlice(0, Layout.KSET_HEADER_SIZE))) {
        found.add(io.pcache.core.format.Kset.check(first, 0, first.byteSize()) == io.pcache.core.format.Kset.Check.VALID
            ? "segment 0 starts with a valid kset" : "segment 0's first kset slot is not zero");
      }
    }
    return found;
  }

  private static MemorySegment readAt(CacheMedia media, long at, long len) {
    MemorySegment b = Arena.ofAuto().allocate(len, 8);
    media.read(at, b);
    return b;
  }

  private static boolean isZero(MemorySegment b) {
    for (long i = 0; i + 8 <= b.byteSize(); i += 8) {
      if (b.get(ValueLayout.JAVA_LONG_UNALIGNED, i) != 0) {
        return false;
      }
    }
    return true;
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
