package io.pcache.testkit;

import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;

/**
 * The power that a {@link CrashingMedia} and a {@link CrashingBacking} share, so that one power cut
 * hits both at the same instant: no store reaches either device after the cut, whichever thread
 * makes it.
 *
 * <p>Every mutating operation on a plugged-in device (media write and persist, backing write,
 * write-zeroes, discard and flush) is counted; a cut can be {@linkplain #armAt armed} to fire at
 * the n-th operation, from whatever thread makes it (the engine's writeback, GC and flusher threads
 * as well as the caller's). The operation that reaches n goes nowhere.
 *
 * <p>A cut takes the lock of every device image (in plug-in order), marks the power down, and lets
 * each image decide which of its unpersisted (media) or unflushed (backing) stores survive. Device
 * objects opened before the cut stay dead forever: their writes are ignored and {@code crashed()}
 * is true. {@link #restore} powers up again; devices obtained afterwards by {@code reopen()} work
 * on the image as the cut left it.
 *
 * <h2>How much survives</h2>
 *
 * Each cut picks one of four modes from its random source, so that a test sees the extremes as
 * well as the torn middle: every pending store lost; every pending store kept; each pending 8-byte
 * word (media) or 512-byte sector (backing) kept with probability p; each 64-byte line (media) kept
 * with probability p.
 */
public final class PowerSupply {

  /** A device image that loses some of its pending stores at a cut. */
  interface Load {
    /** The lock that every store to the image holds; a cut holds all of them. */
    Lock lock();

    /** Applies the cut (called with {@link #lock()} held). */
    void cut(SplittableRandom random, Survival survival);
  }

  /** What a cut keeps of the stores that were not yet durable. */
  public enum CutMode {
    /** One of the modes below, chosen by the cut's random source (with a random p). */
    RANDOM,
    /** Every pending store is lost (the classic "forget unsynced writes"). */
    LOSE_ALL,
    /** Every pending store reaches the device. */
    KEEP_ALL,
    /** Each pending unit (media word, backing sector) is kept with probability one half. */
    KEEP_EACH,
    /** Each pending 64-byte media line (backing sector) is kept with probability one half. */
    KEEP_LINES
  }

  /** How a cut decides which pending stores survive. */
  record Survival(int mode, double p) {
    static final int NONE = 0;
    static final int ALL = 1;
    static final int EACH = 2;
    static final int LINES = 3;

    static Survival pick(SplittableRandom random, CutMode mode) {
      return switch (mode) {
        case RANDOM -> new Survival(random.nextInt(4), random.nextDouble());
        case LOSE_ALL -> new Survival(NONE, 0);
        case KEEP_ALL -> new Survival(ALL, 1);
        case KEEP_EACH -> new Survival(EACH, 0.5);
        case KEEP_LINES -> new Survival(LINES, 0.5);
      };
    }

    /** Whether a unit (word, line, sector) survives. */
    boolean keep(SplittableRandom random) {
      return switch (mode) {
        case NONE -> false;
        case ALL -> true;
        default -> random.nextDouble() < p;
      };
    }

    @Override
    public String toString() {
      return switch (mode) {
        case NONE -> "all pending stores lost";
        case ALL -> "all pending stores kept";
        case EACH -> String.format("each pending unit kept with p=%.2f", p);
        default -> String.format("each pending 64-byte line kept with p=%.2f", p);
      };
    }
  }

  private final List<Load> loads = new CopyOnWriteArrayList<>();
  private final AtomicLong operations = new AtomicLong();
  private volatile boolean down;
  private volatile int epoch;
  private volatile long armedAt = Long.MAX_VALUE;
  private SplittableRandom armedRandom;
  private CutMode armedMode = CutMode.RANDOM;
  private volatile String lastCut = "";
  private volatile String lastCutThread = "";
  private long cuts;

  void plug(Load load) {
    loads.add(load);
  }

  /** The current power epoch; a device is alive while the power is up in the epoch it was opened in. */
  int epoch() {
    return epoch;
  }

  boolean alive(int deviceEpoch) {
    return !down && epoch == deviceEpoch;
  }

  /** Counts one mutating operation and fires an armed cut when its count is reached. */
  void count() {
    long n = operations.incrementAndGet();
    if (n == armedAt) {
      SplittableRandom r;
      CutMode mode;
      synchronized (this) {
        r = armedRandom;
        mode = armedMode;
      }
      if (r != null) {
        cut(r, mode);
      }
    }
  }

  /** Mutating operations counted since this supply was made. */
  public long operations() {
    return operations.get();
  }

  /**
   * Arms a cut at the {@code n}-th mutating operation from now ({@code n >= 1}); replaces any
   * earlier arming.
   */
  public synchronized void armAt(long n, SplittableRandom random) {
    armAt(n, random, CutMode.RANDOM);
  }

  /** Arms a cut at the {@code n}-th mutating operation from now, keeping what {@code mode} says. */
  public synchronized void armAt(long n, SplittableRandom random, CutMode mode) {
    if (n < 1) {
      throw new IllegalArgumentException("n must be >= 1: " + n);
    }
    armedRandom = random;
    armedMode = mode;
    armedAt = operations.get() + n;
  }

  /** Cancels an armed cut. */
  public synchronized void disarm() {
    armedAt = Long.MAX_VALUE;
    armedRandom = null;
  }

  /** Whether a cut is armed and has not fired yet. */
  public boolean armed() {
    return armedAt != Long.MAX_VALUE && !down;
  }

  /**
   * Cuts the power now: every plugged device loses a random part of what it has not made durable
   * and ignores every later write. Does nothing when the power is already down.
   */
  public void cut(SplittableRandom random) {
    cut(random, CutMode.RANDOM);
  }

  /** Cuts the power now, keeping what {@code mode} says of the pending stores. */
  public void cut(SplittableRandom random, CutMode mode) {
    synchronized (this) {
      if (down) {
        return;
      }
      Survival survival = Survival.pick(random, mode);
      for (Load l : loads) {
        l.lock().lock();
      }
      try {
        down = true;
        for (Load l : loads) {
          l.cut(random, survival);
        }
      } finally {
        for (Load l : loads) {
          l.lock().unlock();
        }
      }
      cuts++;
      armedAt = Long.MAX_VALUE;
      armedRandom = null;
      lastCutThread = Thread.currentThread().getName();
      lastCut = survival.toString() + " after " + operations.get() + " operations, on thread '" + lastCutThread + "'";
    }
  }

  /** Whether the power is down (cut and not yet restored). */
  public boolean down() {
    return down;
  }

  /** Powers up again after a cut (idempotent); devices opened before stay dead. */
  public synchronized void restore() {
    if (down) {
      epoch++;
      down = false;
    }
  }

  /** How many cuts happened. */
  public synchronized long cuts() {
    return cuts;
  }

  /** The name of the thread that made the last cut (the one whose operation reached an armed count). */
  public String lastCutThread() {
    return lastCutThread;
  }

  /** What the last cut kept, for messages. */
  public String lastCut() {
    return lastCut;
  }
}
