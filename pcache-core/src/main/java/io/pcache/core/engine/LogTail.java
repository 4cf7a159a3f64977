package io.pcache.core.engine;

import static io.pcache.core.format.Meta.U32;
import static io.pcache.core.format.Meta.U64;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.format.Crc32c;
import io.pcache.core.format.KeyRecord;
import io.pcache.core.format.Kset;
import io.pcache.core.format.Layout;
import io.pcache.core.format.Meta;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.IntToLongFunction;

/**
 * Where the kset log ends: tells a torn last kset (the normal end of the log after a power cut)
 * from a corrupt kset in the middle of the log, and checks every key record a valid kset holds.
 * Used by replay ({@code pcache run}) and by {@code pcache check}, so both say the same.
 *
 * <h2>What a torn write can leave</h2>
 *
 * <ul>
 *   <li>pcache zeroes a segment's whole data area before it becomes a kset segment (dm-pcache only
 *       its first 24 bytes, so ksets of an earlier life stay intact behind the head there), and
 *       persists a 24-byte zero terminator after each kset <em>before</em> the kset. So the place a
 *       kset is written to holds a zero header, and everything after it zeros, until it is
 *       complete: any valid kset after a bad one was written after it.
 *   <li>A power cut keeps any subset of the 8-byte words of a kset being written (the {@link
 *       CacheMedia} contract). So a torn kset's header words are each either the new value or
 *       zero: its magic is the kset magic or 0, its flags 0, LAST or 0, and its first word (crc and
 *       key count) the new one or 0.
 * </ul>
 *
 * Hence a bad kset is <b>corrupt</b> (not torn) when
 *
 * <ol>
 *   <li>a header word holds a value no torn write leaves: a magic that is neither the kset magic
 *       nor zero, unknown flags, a key count over 128 or one that does not fit the segment;
 *   <li>or its successor exists: a valid kset whose keys are all plausible and current (generation
 *       equal to their segment's, data CRC right when the cache keeps them) at the place the next
 *       kset goes — right after it when its size is known, offset 0 of the segment a LAST kset
 *       names — or, when the header is unreadable (zero), at any 8-byte step of the next {@value
 *       #SCAN_WINDOW} bytes. A torn kset has zeros there.
 * </ol>
 *
 * A kset whose CRC matches once a header word is restored (a zeroed magic, zeroed flags of a LAST
 * kset, a damaged key count found among 1..128) is <b>repairable</b>: every other word is as it
 * was written, so it is replayed (and its header rewritten by {@code run}) whether a torn write
 * or a later fault damaged it. An unacknowledged kset replayed after a torn write is harmless: its
 * data was persisted before the kset was written.
 *
 * <p>What stays undecidable, as in dm-pcache: damage to the last kset of the log that a torn
 * write could also have left (whole words of its keys or its CRC word zeroed or replaced), with
 * nothing after it. That is taken as the end of the log.
 *
 * <p>The freshness test of a successor is for logs pcache did not write from the start (the
 * kernel's, or an older pcache's): there a torn kset may have a kset of an earlier life of its
 * segment behind it, whose keys point into segments that were reused since (their generation
 * moved on) unless every one of them survived a whole lap of the log. Such a log may, rarely, be
 * refused after a power cut although nothing was lost; {@code --recover-log cut} then starts it.
 */
final class LogTail {

  /** How far past a bad kset a successor is looked for: damage of up to a 64 KiB run is seen past. */
  static final int SCAN_WINDOW = 64 * 1024;

  /** What is at the place where the valid log stopped. */
  enum Kind {
    /** The end of the log: nothing, or a torn kset. */
    END,
    /** A kset whose header was restored with its CRC: replay it ({@link Verdict#repaired}). */
    REPAIRABLE,
    /** A corrupt kset in the middle of the log, or one a torn write cannot leave. */
    CORRUPT
  }

  /**
   * @param kind what was found
   * @param reason for CORRUPT and REPAIRABLE, what is wrong, naming the position and media offset
   * @param repaired for REPAIRABLE, the kset as it was written (its header restored), else null
   * @param ksetsAfter for CORRUPT, the valid ksets found after it (0 when its successor is unknown)
   * @param keysAfter for CORRUPT, the keys in those ksets
   * @param successor for CORRUPT, where the valid kset after it is, when one was found (else null)
   */
  record Verdict(Kind kind, String reason, MemorySegment repaired, long ksetsAfter, long keysAfter,
      LogPos successor) {}

  private final CacheMedia media;
  private final int nSegs;
  private final IntToLongFunction gen;
  private final long devSize;
  private final boolean dataCrc;
  private final DataCheck data;
  private java.util.function.IntPredicate inUse = id -> false;

  /**
   * @param nSegs the cache's segment count
   * @param gen a segment's current generation
   * @param devSize the backing device's size (Long.MAX_VALUE when unknown, offline)
   * @param dataCrc whether the cache keeps data CRCs (successors are then checked against them)
   */
  LogTail(CacheMedia media, int nSegs, IntToLongFunction gen, long devSize, boolean dataCrc) {
    this.media = media;
    this.nSegs = nSegs;
    this.gen = gen;
    this.devSize = devSize;
    this.dataCrc = dataCrc;
    this.data = new DataCheck(media);
  }

  /**
   * Tells which segments the log before the bad kset uses (its kset segments and the data
   * segments of its keys): a LAST kset that lost the id of its next segment is searched for among
   * the others.
   */
  void inUse(java.util.function.IntPredicate used) {
    this.inUse = used;
  }

  /** Where a kset position lies on the media, for messages. */
  static String where(LogPos pos) {
    return "segment " + pos.segId() + " offset " + Integer.toUnsignedString(pos.off()) + " (media offset "
        + Layout.dataOffset(pos.segId(), Integer.toUnsignedLong(pos.off())) + ")";
  }

  /**
   * Why a key record cannot be right, or null when it can: segment id beyond the cache, extent
   * past the data area or the backing device, crossing a 4 MiB boundary, length 0 or not a
   * multiple of 512, unknown flags, a generation ahead of its segment's.
   */
  String impossible(KeyRecord k) {
    long len = Integer.toUnsignedLong(k.len());
    long segOff = Integer.toUnsignedLong(k.segOff());
    if (Integer.compareUnsigned(k.segId(), nSegs) >= 0) {
      return "segment " + Integer.toUnsignedString(k.segId()) + " is beyond the cache's " + nSegs + " segments";
    }
    if (len == 0 || len % 512 != 0) {
      return "length " + len + " is not a positive multiple of 512";
    }
    if (k.off() < 0 || k.off() % 512 != 0) {
      return "backing offset " + k.off() + " is not a multiple of 512";
    }
    if (segOff + len > Layout.SEG_DATA_SIZE) {
      return "its data (segment offset " + segOff + ", length " + len + ") runs past the segment's data area";
    }
    if ((k.off() >>> Layout.SUBTREE_SHIFT) != ((k.off() + len - 1) >>> Layout.SUBTREE_SHIFT)) {
      return "it crosses a 4 MiB boundary of the backing device";
    }
    if ((k.flags() & ~Layout.KEY_F_CLEAN) != 0) {
      return "unknown flags 0x" + Integer.toHexString(k.flags());
    }
    if (k.segGen() > gen.applyAsLong(k.segId())) {
      return "its generation " + k.segGen() + " is ahead of segment " + k.segId() + "'s " + gen.applyAsLong(k.segId())
          + " (a damaged seg_gen?)";
    }
    if (k.off() + len > devSize) {
      return "it ends at backing offset " + (k.off() + len) + ", past the backing device's " + devSize
          + " bytes (a smaller or another backing device than the one it was written for?)";
    }
    return null;
  }

  /**
   * The first key of a valid kset at {@code pos} that cannot be right, described for an error
   * (index, position, why, the record), or null when every key can be.
   */
  String impossibleKey(Kset kset, LogPos pos) {
    for (int i = 0; i < kset.keys().size(); i++) {
      String why = impossible(kset.keys().get(i));
      if (why != null) {
        return "key " + i + " of the kset at " + where(pos) + " cannot be right (" + why + "): " + kset.keys().get(i);
      }
    }
    return null;
  }

  /**
   * Judges the bad kset at {@code pos} (where {@link Kset#check} did not say VALID).
   */
  Verdict judge(LogPos pos) {
    long avail = Layout.SEG_DATA_SIZE - Integer.toUnsignedLong(pos.off());
    MemorySegment w = read(pos, Math.min(Layout.KSET_SIZE_MAX, avail));
    long first = w.get(U64, 0);
    int storedCrc = w.get(U32, 0);
    int n = w.get(U32, 4);
    long magic = w.get(U64, 8);
    long flags = w.get(U64, 16);
    String at = "the kset at " + where(pos);

    MemorySegment repaired = repair(w, avail);
    if (repaired != null) {
      return new Verdict(Kind.REPAIRABLE, at + " has a damaged header word (magic 0x" + Long.toHexString(magic)
          + ", key count " + Integer.toUnsignedString(n) + ", flags 0x" + Long.toHexString(flags)
          + ") but its CRC matches once it is restored", repaired, 0, 0, null);
    }
    if (magic != 0 && magic != Layout.KSET_MAGIC) {
      return corrupt(at + " has magic 0x" + Long.toHexString(magic) + ", neither a kset's nor zero: damaged, not torn",
          null);
    }
    if (flags != 0 && flags != Layout.KSET_F_LAST) {
      return corrupt(at + " has unknown flags 0x" + Long.toHexString(flags) + ": damaged, not torn", null);
    }
    if (magic == Layout.KSET_MAGIC && flags == Layout.KSET_F_LAST) {
      // A LAST kset: its next segment was zeroed before it was written.
      if (first != 0 && Integer.compareUnsigned(n, nSegs) < 0 && fresh(new LogPos(n, 0))) {
        return corrupt(at + " is a LAST kset with a bad CRC, but segment " + n + " it points to starts with a valid"
            + " kset, which can only have been written after it", new LogPos(n, 0));
      }
      if (first == 0) {
        // Its next segment id is lost. A torn LAST kset's next segment is all zero (zeroed before
        // it was written); a damaged one's holds the rest of the log: a segment the log before it
        // does not use, starting with a fresh kset, whose chain does not run back into that log
        // (a kset segment freed by GC has one that does: it is older than key_tail).
        for (int t = 0; t < nSegs; t++) {
          if (!inUse.test(t) && t != pos.segId() && fresh(new LogPos(t, 0)) && !runsInto(new LogPos(t, 0))) {
            return corrupt(at + " is a LAST kset that lost its next segment id, but segment " + t + " starts with a"
                + " valid kset no part of the log before it accounts for", new LogPos(t, 0));
          }
        }
      }
      return scan(pos, at, Layout.KSET_HEADER_SIZE);
    }
    if (magic == Layout.KSET_MAGIC && first != 0) {
      if (Integer.compareUnsigned(n, Layout.KSET_KEYS_MAX) > 0 || n == 0) {
        return corrupt(at + " claims " + Integer.toUnsignedString(n) + " keys (at most " + Layout.KSET_KEYS_MAX
            + "): damaged, not torn", null);
      }
      if (Kset.sizeOf(n) + Layout.KSET_HEADER_SIZE > avail) {
        return corrupt(at + " claims " + n + " keys, which do not fit in the " + avail + " bytes left in its segment"
            + " with room for a LAST kset: damaged, not torn", null);
      }
      LogPos next = new LogPos(pos.segId(), pos.off() + Kset.sizeOf(n));
      if (fresh(next)) {
        return corrupt(at + " fails its CRC, but a valid kset follows it at " + where(next)
            + ": it was complete once, so it is damaged, not torn", next);
      }
      String damaged = damagedByte(w.asSlice(0, Kset.sizeOf(n)), pos);
      if (damaged != null) {
        return corrupt(at + " fails its CRC because of " + damaged + ": damaged, not torn (a torn kset's words are"
            + " each either what was written or zero)", null);
      }
      return scan(pos, at, Kset.sizeOf(n));
    }
    return scan(pos, at, 8);
  }

  /**
   * Looks for a successor from {@code from} bytes after the bad kset to {@value #SCAN_WINDOW}
   * bytes past it (a damaged sector or page can hide where it ends): a fresh kset there was
   * written after it.
   */
  private Verdict scan(LogPos pos, String at, long from) {
    long avail = Layout.SEG_DATA_SIZE - Integer.toUnsignedLong(pos.off());
    for (long off = Math.max(8, from); off <= from + SCAN_WINDOW && off + Layout.KSET_HEADER_SIZE <= avail; off += 8) {
      LogPos q = new LogPos(pos.segId(), (int) (pos.off() + off));
      if (fresh(q)) {
        return corrupt(at + " is unreadable, but a valid kset follows it at " + where(q), q);
      }
    }
    return end();
  }

  /**
   * For a complete-looking kset (header intact) that fails its CRC with nothing after it: whether
   * one damaged byte of its keys explains the CRC, in a word that is not zero (a torn write leaves
   * words that are either as written, and then right, or zero). The corrected kset must hold only
   * keys that can be right and are current, and with data CRCs their data must match: so a torn
   * kset is taken for a damaged one with a probability far below 1e-6. Without data CRCs only a
   * single flipped bit is looked for (41,000 candidates in the largest kset, instead of 1.3 million
   * for a byte). Returns what was found, or null.
   */
  private String damagedByte(MemorySegment k, LogPos pos) {
    int size = (int) k.byteSize();
    int stored = k.get(U32, 0);
    int actual = Meta.crc(k, 0, size);
    int syndrome = actual ^ stored;
    MemorySegment c = Arena.ofAuto().allocate(size, 8);
    MemorySegment.copy(k, 0, c, 0, size);
    int[] bitSyndrome = new int[8];
    for (int i = Layout.KSET_HEADER_SIZE; i < size; i++) {
      if (k.get(U64, i & ~7) == 0) {
        continue;
      }
      byte orig = c.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i);
      for (int b = 0; b < 8; b++) {
        c.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (orig ^ (1 << b)));
        bitSyndrome[b] = Meta.crc(c, 0, size) ^ actual;
      }
      c.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, orig);
      for (int v = 1; v < 256; v++) {
        if (!dataCrc && Integer.bitCount(v) != 1) {
          continue;
        }
        int sv = 0;
        for (int b = 0; b < 8; b++) {
          if ((v & (1 << b)) != 0) {
            sv ^= bitSyndrome[b];
          }
        }
        if (sv != syndrome) {
          continue;
        }
        c.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (orig ^ v));
        boolean right = true;
        for (int j = 0; j < (size - Layout.KSET_HEADER_SIZE) / Layout.KEY_SIZE && right; j++) {
          KeyRecord key = KeyRecord.decode(c, Layout.KSET_HEADER_SIZE + (long) j * Layout.KEY_SIZE);
          right = impossible(key) == null && key.segGen() == gen.applyAsLong(key.segId()) && (!dataCrc || dataMatches(key));
        }
        c.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, orig);
        if (right) {
          return "byte " + i + " of it (media offset " + (Layout.dataOffset(pos.segId(), Integer.toUnsignedLong(pos.off()))
              + i) + "), which holds 0x" + Integer.toHexString(orig & 0xFF) + " where its CRC says 0x"
              + Integer.toHexString((orig ^ v) & 0xFF);
        }
      }
    }
    return null;
  }

  private static Verdict end() {
    return new Verdict(Kind.END, null, null, 0, 0, null);
  }

  private Verdict corrupt(String reason, LogPos successor) {
    long[] counts = successor == null ? new long[2] : count(successor);
    return new Verdict(Kind.CORRUPT, reason, null, counts[0], counts[1], successor);
  }

  /**
   * Ends the log at {@code bad} ({@code --recover-log cut}): zeroes its header and those of the
   * valid ksets after it in the same segment, from {@code successor} on (null: none known), so
   * that no later start finds them again as a successor. Ksets in other segments need nothing:
   * pcache zeroes the start of every segment it chains to the log. Returns the headers erased.
   */
  long erase(LogPos bad, LogPos successor) throws java.io.IOException {
    MemorySegment zero = Arena.ofAuto().allocate(Layout.KSET_HEADER_SIZE, 8);
    long erased = 0;
    LogPos pos = bad;
    boolean chain = false;
    while (true) {
      long at = Layout.dataOffset(pos.segId(), Integer.toUnsignedLong(pos.off()));
      MemorySegment w = chain ? read(pos, Math.min(Layout.KSET_SIZE_MAX,
          Layout.SEG_DATA_SIZE - Integer.toUnsignedLong(pos.off()))) : null;
      boolean valid = w != null && Kset.check(w, 0, w.byteSize()) == Kset.Check.VALID;
      if (chain && !valid) {
        break;
      }
      media.write(at, zero);
      media.persist(at, Layout.KSET_HEADER_SIZE);
      erased++;
      if (!chain) {
        if (successor == null || successor.segId() != bad.segId()) {
          break;
        }
        pos = successor;
        chain = true;
        continue;
      }
      Kset kset = Kset.decode(w, 0);
      if (kset.last()) {
        break;
      }
      pos = new LogPos(pos.segId(), pos.off() + kset.size());
      if (Layout.SEG_DATA_SIZE - Integer.toUnsignedLong(pos.off()) < Layout.KSET_HEADER_SIZE) {
        break;
      }
    }
    return erased;
  }

  /**
   * Tries to restore the header of a kset whose body is intact: the magic (if zero), the flags
   * (zero or LAST), a damaged key count (every count from 1 to 128), a LAST kset's damaged next
   * segment id (every id) or one damaged byte of the stored CRC. Returns the restored kset when
   * its CRC then matches, else null. About 1,200 candidates are tried (plus n_segs for a LAST), so
   * a torn kset passes by chance with a probability near 3e-7, and replay still checks each of its
   * keys; damage in the keys is not corrected (see {@link #damagedByte}: refused instead).
   */
  private MemorySegment repair(MemorySegment w, long avail) {
    int storedCrc = w.get(U32, 0);
    int n = w.get(U32, 4);
    long magic = w.get(U64, 8);
    long flags = w.get(U64, 16);
    if (storedCrc == 0 && n == 0) {
      return null; // the first word was never written (or zeroed): nothing to check against
    }
    if ((magic != 0 && magic != Layout.KSET_MAGIC) || (flags != 0 && flags != Layout.KSET_F_LAST)) {
      return null; // garbage in a header word: not something a restore can explain
    }
    MemorySegment c = Arena.ofAuto().allocate(w.byteSize(), 8);
    MemorySegment.copy(w, 0, c, 0, w.byteSize());
    c.set(U64, 8, Layout.KSET_MAGIC);
    // As a LAST kset pointing to segment n (its flags word lost, or its magic).
    if (Integer.compareUnsigned(n, nSegs) < 0) {
      c.set(U64, 16, Layout.KSET_F_LAST);
      if (matches(c, Layout.KSET_HEADER_SIZE, storedCrc)) {
        return c.asSlice(0, Layout.KSET_HEADER_SIZE);
      }
    }
    // A LAST kset whose next segment id was damaged: every id is tried (20 bytes each).
    if (magic == Layout.KSET_MAGIC && flags == Layout.KSET_F_LAST) {
      for (int t = 0; t < nSegs; t++) {
        c.set(U32, 4, t);
        if (t != n && matches(c, Layout.KSET_HEADER_SIZE, storedCrc)) {
          return c.asSlice(0, Layout.KSET_HEADER_SIZE);
        }
      }
      c.set(U32, 4, n);
    }
    c.set(U64, 16, 0L);
    for (int k = 1; k <= Layout.KSET_KEYS_MAX && Kset.sizeOf(k) + Layout.KSET_HEADER_SIZE <= avail; k++) {
      c.set(U32, 4, k);
      if (matches(c, Kset.sizeOf(k), storedCrc)) {
        return c.asSlice(0, Kset.sizeOf(k));
      }
    }
    c.set(U32, 4, n);
    int size = n == 0 || Integer.compareUnsigned(n, Layout.KSET_KEYS_MAX) > 0 ? 0 : Kset.sizeOf(n);
    if (flags == Layout.KSET_F_LAST) {
      c.set(U64, 16, Layout.KSET_F_LAST);
      size = Layout.KSET_HEADER_SIZE;
    }
    if (size > 0 && size <= avail) {
      int actual = Meta.crc(c, 0, size);
      int diff = actual ^ storedCrc;
      if (diff != 0 && ((diff & 0xFF) == diff || (diff & 0xFF00) == diff || (diff & 0xFF0000) == diff
          || (diff & 0xFF000000) == diff)) {
        c.set(U32, 0, actual);
        return c.asSlice(0, size);
      }
    }
    return null;
  }

  private static boolean matches(MemorySegment c, int size, int storedCrc) {
    if (Meta.crc(c, 0, size) != storedCrc) {
      return false;
    }
    c.set(U32, 0, storedCrc);
    return true;
  }

  /**
   * Whether a valid kset at {@code pos} holds only keys that can be right and are current, so it
   * cannot be an old lap's. A LAST kset is fresh when the segment it names starts with a fresh kset.
   */
  boolean fresh(LogPos pos) {
    return fresh(pos, 0);
  }

  private boolean fresh(LogPos pos, int depth) {
    long avail = Layout.SEG_DATA_SIZE - Integer.toUnsignedLong(pos.off());
    if (avail < Layout.KSET_HEADER_SIZE) {
      return false;
    }
    MemorySegment w = read(pos, Math.min(Layout.KSET_SIZE_MAX, avail));
    if (Kset.check(w, 0, w.byteSize()) != Kset.Check.VALID) {
      return false;
    }
    Kset kset = Kset.decode(w, 0);
    if (kset.last()) {
      return depth < 2 && Integer.compareUnsigned(kset.nextSegId(), nSegs) < 0
          && kset.nextSegId() != pos.segId() && fresh(new LogPos(kset.nextSegId(), 0), depth + 1);
    }
    for (KeyRecord k : kset.keys()) {
      if (impossible(k) != null || k.segGen() != gen.applyAsLong(k.segId())) {
        return false;
      }
      if (dataCrc && !dataMatches(k)) {
        return false;
      }
    }
    return true;
  }

  boolean dataMatches(KeyRecord k) {
    return data.matches(k);
  }

  /** Whether the chain from {@code pos} reaches a segment the log before the bad kset uses. */
  private boolean runsInto(LogPos pos) {
    int hops = 0;
    while (hops <= nSegs) {
      long avail = Layout.SEG_DATA_SIZE - Integer.toUnsignedLong(pos.off());
      if (avail < Layout.KSET_HEADER_SIZE) {
        return false;
      }
      MemorySegment w = read(pos, Math.min(Layout.KSET_SIZE_MAX, avail));
      if (Kset.check(w, 0, w.byteSize()) != Kset.Check.VALID) {
        return false;
      }
      Kset kset = Kset.decode(w, 0);
      if (kset.last()) {
        if (Integer.compareUnsigned(kset.nextSegId(), nSegs) >= 0) {
          return false;
        }
        if (inUse.test(kset.nextSegId())) {
          return true;
        }
        hops++;
        pos = new LogPos(kset.nextSegId(), 0);
      } else {
        pos = new LogPos(pos.segId(), pos.off() + kset.size());
      }
    }
    return true;
  }

  /** Counts the valid ksets and keys of the chain from {@code pos} (LAST hops at most n_segs). */
  long[] count(LogPos pos) {
    return walk(pos, null);
  }

  /**
   * Walks the valid ksets of the chain from {@code pos} (LAST hops at most n_segs), giving each key
   * to {@code keys} (may be null); returns the ksets and keys walked.
   */
  long[] walk(LogPos pos, java.util.function.Consumer<KeyRecord> each) {
    long ksets = 0;
    long keys = 0;
    int hops = 0;
    while (true) {
      long avail = Layout.SEG_DATA_SIZE - Integer.toUnsignedLong(pos.off());
      if (avail < Layout.KSET_HEADER_SIZE) {
        break;
      }
      MemorySegment w = read(pos, Math.min(Layout.KSET_SIZE_MAX, avail));
      if (Kset.check(w, 0, w.byteSize()) != Kset.Check.VALID) {
        break;
      }
      Kset kset = Kset.decode(w, 0);
      ksets++;
      if (kset.last()) {
        if (++hops > nSegs || Integer.compareUnsigned(kset.nextSegId(), nSegs) >= 0) {
          break;
        }
        pos = new LogPos(kset.nextSegId(), 0);
      } else {
        keys += kset.keys().size();
        if (each != null) {
          kset.keys().forEach(each);
        }
        pos = new LogPos(pos.segId(), pos.off() + kset.size());
      }
    }
    return new long[] {ksets, keys};
  }

  private MemorySegment read(LogPos pos, long len) {
    MemorySegment w = Arena.ofAuto().allocate(len, 8);
    media.read(Layout.dataOffset(pos.segId(), Integer.toUnsignedLong(pos.off())), w);
    return w;
  }
}
