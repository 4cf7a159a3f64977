package io.pcache.testkit;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.PersistenceDomain;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Cache media in native memory that simulates power cuts, after Lucene's {@code
 * MockDirectoryWrapper}: every 8-byte word stored since the last {@link #persist} that covered it
 * can be lost at a cut, exactly as the {@link CacheMedia} contract allows (any subset of
 * unpersisted stores, in any order, at 8-byte granularity).
 *
 * <h2>Model</h2>
 *
 * <ul>
 *   <li>A write records, for each word it touches that has no pending store yet, the word's old
 *       value (the first old value wins), then stores the new bytes: reads see them at once.
 *   <li>{@code persist(off, len)} makes the pending words of the range durable (their undo entries
 *       are dropped). Persists of other ranges do not help (as {@code clwb} of other lines).
 *   <li>A cut ({@link #crash}, or {@linkplain #armCrash armed} at the n-th mutating operation of the
 *       shared {@link PowerSupply}, from any thread) keeps a random subset of the pending words and
 *       reverts the others: lost and torn stores. Then this object is dead: its writes and persists
 *       go nowhere (reads still read the image), so the engine that used it can be closed or
 *       abandoned without touching the image. {@link #reopen()} gives a live media on the image as
 *       the cut left it, for the restart.
 * </ul>
 *
 * <h2>Implementation notes</h2>
 *
 * The undo log works on 4 KiB pages: a primitive open-addressing map from page number to a slot
 * that holds the page's saved words (4 KiB, in native chunks of 1024 slots) and a 512-bit mask of
 * the words with a pending store. A 4 MiB data write costs 1024 map inserts and one 4 KiB copy per
 * page (about a millisecond), and its persist drops them again. Persisting a range larger than the
 * log walks the log instead of the range. One lock per image serialises writes, persists and
 * cuts; reads take no lock. A 512 MiB image is meant to be reused across many crash iterations
 * (only the pages written since the last persist cost anything).
 */
public final class CrashingMedia implements CacheMedia {

  private static final int PAGE_SHIFT = 12;
  private static final int PAGE = 1 << PAGE_SHIFT;
  private static final int WORDS_PER_PAGE = PAGE / 8;
  private static final int MASK_LONGS = WORDS_PER_PAGE / 64;
  private static final int SLOTS_PER_CHUNK = 1024;

  private final String name;
  private final Image image;
  private final int epoch;
  private volatile boolean closed;

  private CrashingMedia(String name, Image image) {
    this.name = name;
    this.image = image;
    this.epoch = image.supply.epoch();
  }

  /** New zeroed media of {@code size} bytes with its own power supply. */
  public static CrashingMedia allocate(String name, long size) {
    return allocate(name, size, new PowerSupply());
  }

  /** New zeroed media of {@code size} bytes on {@code supply} (share it with a {@link CrashingBacking}). */
  public static CrashingMedia allocate(String name, long size, PowerSupply supply) {
    return over(name, NativeMemory.allocate(size, PAGE), supply);
  }

  /** Media over existing memory (for example a reused 512 MiB image). */
  public static CrashingMedia over(String name, MemorySegment memory, PowerSupply supply) {
    Objects.requireNonNull(name, "name");
    if (memory.byteSize() % 8 != 0) {
      throw new IllegalArgumentException(name + ": size " + memory.byteSize() + " is not a multiple of 8");
    }
    Image image = new Image(memory, supply);
    supply.plug(image);
    return new CrashingMedia(name, image);
  }

  /**
   * Another open of the same image, as after a restart: powers the supply up again if it was cut.
   * The returned media is live; this one stays as it was (dead if it crashed).
   */
  public CrashingMedia reopen() {
    image.supply.restore();
    return new CrashingMedia(name, image);
  }

  /** The shared power supply. */
  public PowerSupply supply() {
    return image.supply;
  }

  /** Cuts the power now (see {@link PowerSupply#cut}). */
  public void crash(SplittableRandom random) {
    image.supply.cut(random);
  }

  /** Cuts the power now, keeping what {@code mode} says of the pending stores. */
  public void crash(SplittableRandom random, PowerSupply.CutMode mode) {
    image.supply.cut(random, mode);
  }

  /** Arms a cut at the {@code n}-th mutating operation on the supply from now (n >= 1). */
  public void armCrash(long n, SplittableRandom random) {
    image.supply.armAt(n, random);
  }

  /**
   * Arms a cut at the first write (from any thread) that overlaps {@code [offset, offset + length)}
   * of this image, for example a metadata item; that write goes nowhere. Replaces any earlier
   * range arming; {@code length} 0 disarms.
   */
  public void armCrashAtWrite(long offset, long length, SplittableRandom random, PowerSupply.CutMode mode) {
    synchronized (image) {
      image.armRandom = random;
      image.armMode = mode;
      image.armEnd = 0;
      image.armStart = offset;
      image.armEnd = offset + length;
    }
  }

  /**
   * Holds the first write (from any thread) that overlaps {@code [offset, offset + length)}: the
   * writing thread blocks before storing anything until {@link #releaseHeldWrite()}, so that a test
   * can act, or cut the power, while the engine stands between two steps. If the power is cut
   * meanwhile, the held write goes nowhere.
   */
  public void holdWriteAt(long offset, long length) {
    synchronized (image) {
      image.held = new java.util.concurrent.CountDownLatch(1);
      image.holding = new java.util.concurrent.CountDownLatch(1);
      image.holdEnd = 0;
      image.holdStart = offset;
      image.holdEnd = offset + length;
    }
  }

  /** Waits until a write is held by {@link #holdWriteAt}; false on timeout. */
  public boolean awaitHeldWrite(java.time.Duration timeout) throws InterruptedException {
    java.util.concurrent.CountDownLatch h;
    synchronized (image) {
      h = image.holding;
    }
    return h != null && h.await(timeout.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  /** Lets a held write go on (and disarms the hold). */
  public void releaseHeldWrite() {
    synchronized (image) {
      image.holdEnd = 0;
      if (image.held != null) {
        image.held.countDown();
      }
    }
  }

  /** Whether this media has gone through a power cut (its writes go nowhere). */
  public boolean crashed() {
    return !image.supply.alive(epoch);
  }

  /** The image itself, read-only (for checks that must not go through an engine). */
  public MemorySegment image() {
    return image.memory.asReadOnly();
  }

  /** Words with a pending (unpersisted) store. */
  public long pendingWords() {
    image.lock.lock();
    try {
      return image.pendingWords();
    } finally {
      image.lock.unlock();
    }
  }

  /** Pending words that cuts reverted so far, over the life of the image. */
  public long revertedWords() {
    return image.reverted;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public long size() {
    return image.memory.byteSize();
  }

  /**
   * What {@link #persistenceDomain()} reports (DAX by default), so that an engine that treats
   * media differently by domain (for example deferring data persists on page-cache media) can be
   * crash-tested in each mode. The crash model itself is the same for all.
   */
  public CrashingMedia reportPersistenceDomain(PersistenceDomain domain) {
    image.domain = Objects.requireNonNull(domain, "domain");
    return this;
  }

  @Override
  public PersistenceDomain persistenceDomain() {
    return image.domain;
  }

  private void check(long offset, long length) {
    if (closed) {
      throw new IllegalStateException(name + " is closed");
    }
    long size = image.memory.byteSize();
    if (offset < 0 || length < 0 || offset > size - length) {
      throw new IndexOutOfBoundsException(name + ": offset " + offset + " length " + length + " outside " + size
          + " bytes");
    }
  }

  @Override
  public void read(long offset, MemorySegment dst) {
    check(offset, dst.byteSize());
    MemorySegment.copy(image.memory, offset, dst, 0, dst.byteSize());
  }

  @Override
  public void write(long offset, MemorySegment src) {
    long length = src.byteSize();
    check(offset, length);
    image.supply.count();
    if (length == 0) {
      return;
    }
    if (image.holdEnd > image.holdStart && offset < image.holdEnd && offset + length > image.holdStart) {
      java.util.concurrent.CountDownLatch wait = null;
      synchronized (image) {
        if (offset < image.holdEnd && offset + length > image.holdStart) {
          image.holdEnd = 0;
          wait = image.held;
          image.holding.countDown();
        }
      }
      if (wait != null) {
        try {
          wait.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    if (image.armEnd > image.armStart && offset < image.armEnd && offset + length > image.armStart) {
      SplittableRandom r = null;
      PowerSupply.CutMode mode = null;
      synchronized (image) {
        if (offset < image.armEnd && offset + length > image.armStart) {
          r = image.armRandom;
          mode = image.armMode;
          image.armEnd = 0;
        }
      }
      if (r != null) {
        image.supply.cut(r, mode);
      }
    }
    image.lock.lock();
    try {
      if (!image.supply.alive(epoch)) {
        return;
      }
      image.beforeWrite(offset, length);
      MemorySegment.copy(src, 0, image.memory, offset, length);
    } finally {
      image.lock.unlock();
    }
  }

  @Override
  public void persist(long offset, long length) {
    check(offset, length);
    image.supply.count();
    image.lock.lock();
    try {
      if (!image.supply.alive(epoch) || length == 0) {
        return;
      }
      image.persisted(offset, length);
    } finally {
      image.lock.unlock();
    }
  }

  @Override
  public MemorySegment mapping() {
    return image.memory.asReadOnly();
  }

  @Override
  public void close() {
    closed = true;
  }

  /** The memory, its undo log and its lock: what survives a reopen. */
  private static final class Image implements PowerSupply.Load {

    final MemorySegment memory;
    final PowerSupply supply;
    final ReentrantLock lock = new ReentrantLock();
    final LongIntMap pages = new LongIntMap(1024);
    final List<MemorySegment> chunks = new ArrayList<>();
    long[] masks = new long[0];
    int[] freeSlots = new int[0];
    int freeCount;
    int slots;
    volatile long reverted;
    volatile long armStart;
    volatile long armEnd;
    SplittableRandom armRandom;
    PowerSupply.CutMode armMode;
    volatile PersistenceDomain domain = PersistenceDomain.DAX;
    volatile long holdStart;
    volatile long holdEnd;
    java.util.concurrent.CountDownLatch held;
    java.util.concurrent.CountDownLatch holding;

    Image(MemorySegment memory, PowerSupply supply) {
      this.memory = memory;
      this.supply = supply;
    }

    @Override
    public java.util.concurrent.locks.Lock lock() {
      return lock;
    }

    private int allocateSlot() {
      if (freeCount > 0) {
        return freeSlots[--freeCount];
      }
      if (slots % SLOTS_PER_CHUNK == 0) {
        chunks.add(Arena.ofAuto().allocate((long) SLOTS_PER_CHUNK * PAGE, 8));
        masks = java.util.Arrays.copyOf(masks, (slots + SLOTS_PER_CHUNK) * MASK_LONGS);
        freeSlots = java.util.Arrays.copyOf(freeSlots, slots + SLOTS_PER_CHUNK);
      }
      return slots++;
    }

    private void freeSlot(int slot) {
      freeSlots[freeCount++] = slot;
    }

    private MemorySegment snapshot(int slot) {
      return chunks.get(slot / SLOTS_PER_CHUNK).asSlice((long) (slot % SLOTS_PER_CHUNK) * PAGE, PAGE);
    }

    private static long rangeMask(int from, int to) {
      long upper = to == 64 ? -1L : (1L << to) - 1;
      return upper & (-1L << from);
    }

    /** Saves the old value of every word of [offset, offset+length) without a pending store. */
    void beforeWrite(long offset, long length) {
      long firstWord = offset >>> 3;
      long endWord = (offset + length + 7) >>> 3;
      long page = firstWord / WORDS_PER_PAGE;
      long lastPage = (endWord - 1) / WORDS_PER_PAGE;
      for (; page <= lastPage; page++) {
        long pageWord = page * WORDS_PER_PAGE;
        int w0 = (int) Math.max(0, firstWord - pageWord);
        int w1 = (int) Math.min(WORDS_PER_PAGE, endWord - pageWord);
        int slot = pages.get(page);
        boolean fresh = slot < 0;
        if (fresh) {
          slot = allocateSlot();
          pages.put(page, slot);
          for (int i = 0; i < MASK_LONGS; i++) {
            masks[slot * MASK_LONGS + i] = 0;
          }
        }
        MemorySegment snap = snapshot(slot);
        long pageOff = page * PAGE;
        if (fresh && w0 == 0 && w1 == WORDS_PER_PAGE) {
          MemorySegment.copy(memory, pageOff, snap, 0, PAGE);
          for (int i = 0; i < MASK_LONGS; i++) {
            masks[slot * MASK_LONGS + i] = -1L;
          }
          continue;
        }
        for (int w = w0; w < w1; ) {
          int li = w >>> 6;
          int hi = Math.min(w1, (li + 1) << 6);
          long mask = rangeMask(w & 63, hi - (li << 6));
          int mi = slot * MASK_LONGS + li;
          long need = mask & ~masks[mi];
          while (need != 0) {
            int a = Long.numberOfTrailingZeros(need);
            long shifted = need >>> a;
            int run = shifted == -1L ? 64 : Long.numberOfTrailingZeros(~shifted);
            long wordInPage = ((long) li << 6) + a;
            MemorySegment.copy(memory, pageOff + wordInPage * 8, snap, wordInPage * 8, run * 8L);
            need &= ~rangeMask(a, a + run);
          }
          masks[mi] |= mask;
          w = hi;
        }
      }
    }

    /** Drops the undo entries of every word that overlaps [offset, offset+length). */
    void persisted(long offset, long length) {
      if (pages.size() == 0) {
        return;
      }
      long firstWord = offset >>> 3;
      long endWord = (offset + length + 7) >>> 3;
      long firstPage = firstWord / WORDS_PER_PAGE;
      long lastPage = (endWord - 1) / WORDS_PER_PAGE;
      if (lastPage - firstPage + 1 > 4L * pages.size()) {
        for (long page : pages.keys()) {
          if (page >= firstPage && page <= lastPage) {
            persistPage(page, firstWord, endWord);
          }
        }
      } else {
        for (long page = firstPage; page <= lastPage; page++) {
          persistPage(page, firstWord, endWord);
        }
      }
    }

    private void persistPage(long page, long firstWord, long endWord) {
      int slot = pages.get(page);
      if (slot < 0) {
        return;
      }
      long pageWord = page * WORDS_PER_PAGE;
      int w0 = (int) Math.max(0, firstWord - pageWord);
      int w1 = (int) Math.min(WORDS_PER_PAGE, endWord - pageWord);
      long any = 0;
      for (int li = 0; li < MASK_LONGS; li++) {
        int from = Math.max(w0, li << 6);
        int to = Math.min(w1, (li + 1) << 6);
        int mi = slot * MASK_LONGS + li;
        if (from < to) {
          masks[mi] &= ~rangeMask(from - (li << 6), to - (li << 6));
        }
        any |= masks[mi];
      }
      if (any == 0) {
        pages.remove(page);
        freeSlot(slot);
      }
    }

    long pendingWords() {
      long[] n = new long[1];
      pages.forEach((page, slot) -> {
        for (int li = 0; li < MASK_LONGS; li++) {
          n[0] += Long.bitCount(masks[slot * MASK_LONGS + li]);
        }
      });
      return n[0];
    }

    @Override
    public void cut(SplittableRandom random, PowerSupply.Survival survival) {
      long[] count = new long[1];
      pages.forEach((page, slot) -> {
        MemorySegment snap = snapshot(slot);
        long pageOff = page * PAGE;
        boolean lineKept = false;
        for (int w = 0; w < WORDS_PER_PAGE; w++) {
          if (survival.mode() == PowerSupply.Survival.LINES && (w & 7) == 0) {
            lineKept = survival.keep(random);
          }
          long m = masks[slot * MASK_LONGS + (w >>> 6)];
          if ((m & (1L << (w & 63))) == 0) {
            continue;
          }
          boolean keep = survival.mode() == PowerSupply.Survival.LINES ? lineKept : survival.keep(random);
          if (!keep) {
            memory.set(ValueLayout.JAVA_LONG_UNALIGNED, pageOff + w * 8L,
                snap.get(ValueLayout.JAVA_LONG_UNALIGNED, w * 8L));
            count[0]++;
          }
        }
      });
      reverted += count[0];
      pages.clear();
      freeCount = 0;
      for (int i = slots - 1; i >= 0; i--) {
        freeSlots[freeCount++] = i;
      }
    }
  }
}
