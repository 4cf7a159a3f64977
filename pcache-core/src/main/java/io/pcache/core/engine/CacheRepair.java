package io.pcache.core.engine;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.format.CacheInfo;
import io.pcache.core.format.CachePos;
import io.pcache.core.format.Layout;
import io.pcache.core.format.Meta;
import io.pcache.core.format.Replicas;
import io.pcache.core.format.Replicated;
import io.pcache.core.format.SegGen;
import io.pcache.core.format.SegmentInfo;
import io.pcache.core.format.Superblock;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code pcache check --repair}: rebuilds damaged metadata from what is intact, and nothing else.
 *
 * <ul>
 *   <li>The superblock (it has no replica in dm-pcache) when its magic is zero or its CRC is bad
 *       but cache_info has a valid replica: seg_num from the device size as a format computes it,
 *       which must hold cache_info's n_segs. Written as a format writes it: everything but the
 *       magic, then the magic alone.
 *   <li>A replica of cache_info, key_tail, dirty_tail, a segment_info or a seg_gen whose CRC is
 *       bad while its twin is valid: the twin's value is written over it (with the next seq, as
 *       every update is). A replica that is all zero was never written and is left alone.
 * </ul>
 *
 * Items with no valid replica, and the kset log, are not touched: there is nothing to rebuild them
 * from. Each repair is one line in the returned list.
 */
public final class CacheRepair {

  private CacheRepair() {}

  /** Repairs what can be repaired; returns what was done (empty when nothing was needed). */
  public static List<String> repair(CacheMedia media) throws IOException {
    List<String> done = new ArrayList<>();
    Replicas<CacheInfo> infos = CacheFormat.cacheInfoReplicas(media);
    CacheInfo info = infos.load().orElse(null);
    MemorySegment sbBuf = Arena.ofAuto().allocate(Layout.SB_STRUCT_SIZE, 8);
    media.read(Layout.SB_OFF, sbBuf);
    Superblock sb = Superblock.decode(sbBuf, 0);
    boolean sbBad = sb.magic() == 0 || (sb.magic() == Layout.SB_MAGIC && !Superblock.crcValid(sbBuf, 0));
    if (sbBad) {
      if (info == null) {
        throw new IOException("cache " + media.name() + ": the superblock is damaged and no cache_info replica is valid:"
            + " nothing to rebuild it from; 'pcache format --force' formats the device (cached data is lost)");
      }
      long segs = Math.min(Layout.segmentsFor(media.size()), Layout.CACHE_SEGS_MAX);
      if (info.nSegs() <= 0 || info.nSegs() > segs) {
        throw new IOException("cache " + media.name() + ": cache_info says " + info.nSegs() + " segments but the device"
            + " holds " + segs + ": not rebuilding the superblock (is this the right device?)");
      }
      MemorySegment fresh = Arena.ofAuto().allocate(Layout.SB_STRUCT_SIZE, 8);
      new Superblock(0, Layout.SB_MAGIC, (int) segs).encode(fresh, 0);
      MemorySegment magic = Arena.ofAuto().allocate(8, 8);
      MemorySegment.copy(fresh, 8, magic, 0, 8);
      fresh.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, 0L);
      media.write(Layout.SB_OFF, fresh);
      media.persist(Layout.SB_OFF, Layout.SB_STRUCT_SIZE);
      media.write(Layout.SB_OFF + 8, magic);
      media.persist(Layout.SB_OFF + 8, 8);
      done.add("superblock rebuilt at offset " + Layout.SB_OFF + " (" + segs + " segments, from the device size;"
          + " cache_info seq " + info.seq() + " says " + info.nSegs() + ")");
    }
    if (info == null) {
      return done;
    }
    fix(media, infos, "cache_info", Layout.CACHE_INFO_OFF, Layout.CACHE_INFO_SIZE, Layout.CACHE_INFO_STRUCT_SIZE, done);
    fix(media, new Replicas<>(media, Layout.CACHE_CTRL_OFF, Layout.POS_STRUCT_SIZE, Layout.POS_STRUCT_SIZE,
        CachePos::decode), "key_tail", Layout.CACHE_CTRL_OFF, Layout.POS_STRUCT_SIZE, Layout.POS_STRUCT_SIZE, done);
    long dirty = Layout.CACHE_CTRL_OFF + 2L * Layout.POS_STRUCT_SIZE;
    fix(media, new Replicas<>(media, dirty, Layout.POS_STRUCT_SIZE, Layout.POS_STRUCT_SIZE, CachePos::decode),
        "dirty_tail", dirty, Layout.POS_STRUCT_SIZE, Layout.POS_STRUCT_SIZE, done);
    int nSegs = info.nSegs();
    long[] keyGen = null;
    int typeFlags = Layout.SEG_TYPE_CACHE_DATA << Layout.SEG_INFO_TYPE_SHIFT;
    for (int i = 0; i < nSegs; i++) {
      long base = Layout.segmentOffset(i);
      // segment_info has one right value (the chain a format writes): not the twin's, which may be
      // the format's first, unchained write.
      SegmentInfo chained = i == nSegs - 1 ? new SegmentInfo(0, typeFlags, 0)
          : new SegmentInfo(0, typeFlags | Layout.SEG_INFO_F_HAS_NEXT, i + 1);
      fix(media, new Replicas<>(media, base, Layout.SEG_INFO_SIZE, Layout.SEG_INFO_STRUCT_SIZE, SegmentInfo::decode),
          "segment " + i + " segment_info", base, Layout.SEG_INFO_SIZE, Layout.SEG_INFO_STRUCT_SIZE, t -> chained, done);
      long at = base + Layout.SEG_CTRL_OFF;
      if (damaged(media, at, Layout.SEG_GEN_STRUCT_SIZE, Layout.SEG_GEN_STRUCT_SIZE)) {
        if (keyGen == null) {
          keyGen = keyGenerations(media, nSegs);
        }
        long fromKeys = keyGen[i];
        // The twin may be the older replica: a generation below the live keys' would make them
        // look stale, one below a stale key's would bring it back. The log's keys say which is
        // right; with no key pointing into the segment, one more than the twin is safe.
        fix(media, new Replicas<>(media, at, Layout.SEG_GEN_STRUCT_SIZE, Layout.SEG_GEN_STRUCT_SIZE, SegGen::decode),
            "segment " + i + " seg_gen", at, Layout.SEG_GEN_STRUCT_SIZE, Layout.SEG_GEN_STRUCT_SIZE,
            twin -> new SegGen(0, fromKeys >= 0 ? Math.max(fromKeys, twin.gen()) : twin.gen() + 1), done);
      }
    }
    return done;
  }

  private static <T extends Replicated<T>> void fix(CacheMedia media, Replicas<T> replicas, String what, long base,
      long stride, int size, List<String> done) throws IOException {
    fix(media, replicas, what, base, stride, size, t -> t, done);
  }

  /** Whether one replica of an item is damaged: not zero, bad CRC. */
  private static boolean damaged(CacheMedia media, long base, long stride, int size) {
    MemorySegment b = Arena.ofAuto().allocate(size, 8);
    for (int i = 0; i < Layout.META_INDEX_MAX; i++) {
      media.read(base + i * stride, b);
      if (b.mismatch(Arena.ofAuto().allocate(size, 8)) >= 0 && b.get(Meta.U32, 0) != Meta.crc(b, 0, size)) {
        return true;
      }
    }
    return false;
  }

  /** Per segment, the highest generation a key of the log (from key_tail) gives it; -1 for none. */
  private static long[] keyGenerations(CacheMedia media, int nSegs) {
    long[] max = new long[nSegs];
    java.util.Arrays.fill(max, -1);
    Replicas<CachePos> kt = new Replicas<>(media, Layout.CACHE_CTRL_OFF, Layout.POS_STRUCT_SIZE, Layout.POS_STRUCT_SIZE,
        CachePos::decode);
    kt.load().ifPresent(p -> {
      if (Integer.compareUnsigned(p.segId(), nSegs) < 0) {
        new LogTail(media, nSegs, id -> Long.MAX_VALUE, Long.MAX_VALUE, false).walk(new LogPos(p.segId(), p.segOff()), k -> {
          if (Integer.compareUnsigned(k.segId(), nSegs) < 0) {
            max[k.segId()] = Math.max(max[k.segId()], k.segGen());
          }
        });
      }
    });
    return max;
  }

  private static <T extends Replicated<T>> void fix(CacheMedia media, Replicas<T> replicas, String what, long base,
      long stride, int size, java.util.function.UnaryOperator<T> rightValue, List<String> done) throws IOException {
    T latest = replicas.load().orElse(null);
    if (latest == null) {
      return;
    }
    MemorySegment b = Arena.ofAuto().allocate(size, 8);
    for (int i = 0; i < Layout.META_INDEX_MAX; i++) {
      long at = base + i * stride;
      media.read(at, b);
      boolean zero = b.mismatch(Arena.ofAuto().allocate(size, 8)) < 0;
      if (!zero && b.get(Meta.U32, 0) != Meta.crc(b, 0, size)) {
        T written = replicas.update(rightValue.apply(latest)); // over the older slot: the damaged one
        done.add(what + " replica " + i + " at offset " + at + " rewritten from its twin (seq " + written.seq() + ")");
        return;
      }
    }
  }
}
