package io.pcache.core.engine;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.format.CacheInfo;
import io.pcache.core.format.CachePos;
import io.pcache.core.format.Crc32c;
import io.pcache.core.format.KeyRecord;
import io.pcache.core.format.Kset;
import io.pcache.core.format.Layout;
import io.pcache.core.format.Meta;
import io.pcache.core.format.SegGen;
import io.pcache.core.format.SegmentInfo;
import io.pcache.core.format.Superblock;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Reads a cache device without changing it, for {@code pcache status} and {@code pcache check}:
 * the superblock, every replica of every metadata item, and the whole kset log from key_tail, with
 * (when asked and when the cache keeps data CRCs) the CRC of every cached extent.
 *
 * <p>Reports problems (the cache will not start, or data is bad) and warnings (one replica of an
 * item is bad while the other is valid, as a crash during an update leaves it) as one-line
 * findings naming the structure and its media offset; never throws for what it finds.
 */
public final class Inspector {

  /** What the device holds. */
  public record Report(String statusLine, int segNum, int nSegs, int segsUsed, int gcPercent, boolean dataCrc,
      String keyHead, String dirtyTail, String keyTail, long ksets, long keys, long dirtyKeys, long dirtyBytes,
      long cleanBytes, long staleKeys, long crcChecked, List<String> problems, List<String> warnings) {

    public boolean ok() {
      return problems.isEmpty();
    }
  }

  private final CacheMedia media;
  private final List<String> problems = new ArrayList<>();
  private final List<String> warnings = new ArrayList<>();

  public Inspector(CacheMedia media) {
    this.media = media;
  }

  /**
   * Inspects the device.
   *
   * @param verifyData check the CRC of every cached extent (only when the cache keeps CRCs)
   * @param progress told the number of keys walked so far, now and then (may be null)
   * @throws IOException when the device is not a pcache at all (see {@link CacheFormat#inspect})
   */
  public Report inspect(boolean verifyData, LongConsumer progress) throws IOException {
    CacheFormat.State state = CacheFormat.inspect(media);
    if (state == CacheFormat.State.BLANK) {
      throw new IOException("cache " + media.name() + " is blank (never formatted): 'pcache format' or 'pcache run' formats it");
    }
    MemorySegment buf = Arena.ofAuto().allocate(Layout.KSET_SIZE_MAX, 8);
    media.read(Layout.SB_OFF, buf.asSlice(0, Layout.SB_STRUCT_SIZE));
    Superblock sb = Superblock.decode(buf, 0);
    CacheInfo info = latest(Layout.CACHE_INFO_OFF, Layout.CACHE_INFO_SIZE, Layout.CACHE_INFO_STRUCT_SIZE, "cache_info",
        CacheInfo::decode);
    if (info == null) {
      problems.add("cache_info: no valid replica at " + Layout.CACHE_INFO_OFF + " or "
          + (Layout.CACHE_INFO_OFF + Layout.CACHE_INFO_SIZE) + " (an unfinished format: the next start formats again)");
      return report(sb, null, null, null, null, 0, 0, 0, 0, 0, 0, 0, 0);
    }
    int nSegs = info.nSegs();
    if (nSegs <= 0 || nSegs > sb.segNum()) {
      problems.add("cache_info: n_segs " + nSegs + " does not fit the superblock's " + sb.segNum() + " segments");
      return report(sb, info, null, null, null, 0, 0, 0, 0, 0, 0, 0, 0);
    }
    long[] gens = new long[nSegs];
    for (int i = 0; i < nSegs; i++) {
      long base = Layout.segmentOffset(i);
      SegmentInfo si = latest(base, Layout.SEG_INFO_SIZE, Layout.SEG_INFO_STRUCT_SIZE, "segment " + i + " segment_info",
          SegmentInfo::decode);
      if (si == null) {
        problems.add("segment " + i + ": no valid segment_info replica at " + base + " (the cache will not start)");
      } else if (si.type() != Layout.SEG_TYPE_CACHE_DATA || si.hasNext() == (i == nSegs - 1)
          || (i < nSegs - 1 && si.nextSeg() != i + 1)) {
        problems.add("segment " + i + ": segment_info flags 0x" + Integer.toHexString(si.flags()) + " next " + si.nextSeg()
            + " break the chain");
      }
      SegGen g = latest(base + Layout.SEG_CTRL_OFF, Layout.SEG_GEN_STRUCT_SIZE, Layout.SEG_GEN_STRUCT_SIZE,
          "segment " + i + " seg_gen", SegGen::decode);
      gens[i] = g == null ? 0 : g.gen();
    }
    CachePos kt = latest(Layout.CACHE_CTRL_OFF, Layout.POS_STRUCT_SIZE, Layout.POS_STRUCT_SIZE, "key_tail", CachePos::decode);
    CachePos dt = latest(Layout.CACHE_CTRL_OFF + 2L * Layout.POS_STRUCT_SIZE, Layout.POS_STRUCT_SIZE,
        Layout.POS_STRUCT_SIZE, "dirty_tail", CachePos::decode);
    if (kt == null || dt == null) {
      problems.add("cache_ctrl: no valid replica of " + (kt == null ? "key_tail" : "dirty_tail") + " (the cache will not start)");
      return report(sb, info, null, null, null, 0, 0, 0, 0, 0, 0, 0, 0);
    }
    LogPos pos = new LogPos(kt.segId(), kt.segOff());
    LogPos dirtyTail = new LogPos(dt.segId(), dt.segOff());
    if (Integer.compareUnsigned(pos.segId(), nSegs) >= 0 || Integer.compareUnsigned(dirtyTail.segId(), nSegs) >= 0) {
      problems.add("cache_ctrl: key_tail " + pos + " or dirty_tail " + dirtyTail + " lies beyond the " + nSegs + " segments");
      return report(sb, info, null, dirtyTail, pos, 0, 0, 0, 0, 0, 0, 0, 0);
    }
    BitSet used = new BitSet(nSegs);
    used.set(pos.segId());
    boolean afterDirtyTail = pos.equals(dirtyTail);
    long ksets = 0;
    long keys = 0;
    long dirtyKeys = 0;
    long dirtyBytes = 0;
    long cleanBytes = 0;
    long stale = 0;
    long crcChecked = 0;
    LogTail tail = new LogTail(media, nSegs, id -> gens[id], Long.MAX_VALUE, info.dataCrc());
    tail.inUse(used::get);
    int hops = 0;
    while (true) {
      long available = Layout.SEG_DATA_SIZE - Integer.toUnsignedLong(pos.off());
      if (available < Layout.KSET_HEADER_SIZE) {
        break;
      }
      MemorySegment window = buf.asSlice(0, Math.min(buf.byteSize(), available));
      media.read(Layout.dataOffset(pos.segId(), pos.off()), window);
      if (Kset.check(window, 0, window.byteSize()) != Kset.Check.VALID) {
        LogTail.Verdict v = tail.judge(pos);
        if (v.kind() == LogTail.Kind.END) {
          break;
        }
        if (v.kind() == LogTail.Kind.CORRUPT) {
          problems.add("log: " + v.reason() + "; " + (v.ksetsAfter() > 0 ? v.ksetsAfter() + " valid ksets with "
              + v.keysAfter() + " keys follow it" : "what followed it cannot be found")
              + " ('pcache run' refuses to start; --recover-log cut drops the log from there)");
          break;
        }
        warnings.add("log: " + v.reason() + " ('pcache run' rewrites its header)");
        MemorySegment.copy(v.repaired(), 0, window, 0, v.repaired().byteSize());
      }
      Kset kset = Kset.decode(window, 0);
      ksets++;
      if (kset.last()) {
        if (Integer.compareUnsigned(kset.nextSegId(), nSegs) >= 0) {
          problems.add("log: LAST kset at " + LogTail.where(pos) + " points to segment "
              + Integer.toUnsignedString(kset.nextSegId()) + " beyond the cache");
          break;
        }
        if (++hops > nSegs) {
          problems.add("log: the LAST chain passes more than the " + nSegs + " segments (it loops, at "
              + LogTail.where(pos) + ")");
          break;
        }
        pos = new LogPos(kset.nextSegId(), 0);
        used.set(pos.segId());
      } else {
        String impossible = tail.impossibleKey(kset, pos);
        if (impossible != null) {
          long[] after = tail.count(new LogPos(pos.segId(), pos.off() + kset.size()));
          problems.add("log: " + impossible + "; " + after[0] + " valid ksets with " + after[1]
              + " keys follow it ('pcache run' refuses to start; --recover-log cut drops the log from there)");
          ksets--;
          break;
        }
        for (KeyRecord k : kset.keys()) {
          keys++;
          used.set(k.segId());
          if (k.segGen() < gens[k.segId()]) {
            stale++;
            continue;
          }
          if (k.clean()) {
            cleanBytes += k.len();
          } else if (afterDirtyTail) {
            dirtyKeys++;
            dirtyBytes += k.len();
          }
          if (verifyData && info.dataCrc()) {
            crcChecked++;
            if (!tail.dataMatches(k)) {
              problems.add("data: CRC mismatch on the " + (k.clean() ? "clean" : "dirty") + " extent at backing offset "
                  + k.off() + " length " + k.len() + " (segment " + k.segId() + " offset " + k.segOff() + ")");
            }
          }
          if (progress != null && keys % 4096 == 0) {
            progress.accept(keys);
          }
        }
        pos = new LogPos(pos.segId(), pos.off() + kset.size());
      }
      if (pos.equals(dirtyTail)) {
        afterDirtyTail = true;
      }
    }
    if (!afterDirtyTail) {
      problems.add("log: dirty_tail " + dirtyTail + " is not on the log between key_tail " + kt.segId() + ":" + kt.segOff()
          + " and key_head " + pos + " (the cache will not start)");
    }
    return report(sb, info, pos, dirtyTail, new LogPos(kt.segId(), kt.segOff()), used.cardinality(), ksets, keys,
        dirtyKeys, dirtyBytes, cleanBytes, stale, crcChecked);
  }

  private Report report(Superblock sb, CacheInfo info, LogPos head, LogPos dirtyTail, LogPos keyTail, int segsUsed,
      long ksets, long keys, long dirtyKeys, long dirtyBytes, long cleanBytes, long stale, long crcChecked) {
    int nSegs = info == null ? 0 : info.nSegs();
    int gc = info == null ? 0 : info.gcPercent();
    int flags = info == null ? 0 : info.flags();
    String h = head == null ? "-" : head.toString();
    String d = dirtyTail == null ? "-" : dirtyTail.toString();
    String k = keyTail == null ? "-" : keyTail.toString();
    String line = Integer.toHexString(sb.flags()) + " " + sb.segNum() + " " + nSegs + " " + segsUsed + " " + gc + " "
        + Integer.toHexString(flags) + " " + h + " " + d + " " + k;
    return new Report(line, sb.segNum(), nSegs, segsUsed, gc, info != null && info.dataCrc(), h, d, k, ksets, keys,
        dirtyKeys, dirtyBytes, cleanBytes, stale, crcChecked, List.copyOf(problems), List.copyOf(warnings));
  }

  /** The latest valid replica, noting every invalid one as a problem (a one-replica item is degraded). */
  private <T extends io.pcache.core.format.Replicated<T>> T latest(long base, long stride, int size, String what,
      io.pcache.core.format.Replicas.Decoder<T> decoder) {
    MemorySegment buf = Arena.ofAuto().allocate(size, 8);
    T best = null;
    int valid = 0;
    boolean allZero = true;
    List<String> bad = new ArrayList<>();
    for (int i = 0; i < Layout.META_INDEX_MAX; i++) {
      long at = base + i * stride;
      media.read(at, buf);
      boolean zero = buf.mismatch(Arena.ofAuto().allocate(size, 8)) < 0;
      if (buf.get(Meta.U32, 0) != Meta.crc(buf, 0, size)) {
        if (!zero) {
          allZero = false;
          bad.add(what + ": replica " + i + " at " + at + " has a bad CRC");
        }
        continue;
      }
      allZero = false;
      valid++;
      T t = decoder.decode(buf, 0);
      if (best == null || Meta.seqAfter(t.seq(), best.seq())) {
        best = t;
      }
    }
    if (valid > 0) {
      // The other replica is good: a torn update (crash) or a damaged copy; the item still reads.
      warnings.addAll(bad.stream().map(b -> b + " (the other replica is valid)").toList());
    } else if (!allZero) {
      problems.addAll(bad);
    }
    return best;
  }
}
