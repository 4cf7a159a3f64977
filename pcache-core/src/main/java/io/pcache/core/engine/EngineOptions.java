package io.pcache.core.engine;

import java.time.Duration;

/**
 * How the engine runs; none of this is on the media except {@code dataCrc} (fixed at format
 * time) and the GC percentage.
 *
 * @param dataCrc whether the cache keeps data CRCs; must match the formatted cache
 * @param ksetFlushDelay how long an open kset may hold keys (dm-pcache: 1 s)
 * @param ksets how many in-memory ksets (dm-pcache: one per CPU; here four per CPU by default,
 *     see {@link #dataHeads})
 * @param fullWait how long a write waits for space when the cache is full before failing with EIO
 * @param writebackBatchKsets how many full ksets' worth of keys (× 128) writeback applies between
 *     two flushes of the backing device; ksets closed early by FLUSH or FUA count by their keys
 *     (dm-pcache: one kset)
 * @param writebackInFlight how many backing writes writeback keeps in flight
 * @param writebackRateBytes writeback rate limit in bytes per second, 0 for none
 * @param gcInterval how often GC looks at the cache when nothing wakes it (dm-pcache: 5 s)
 * @param gcPercentExplicit whether the user set the GC percentage explicitly: then it is
 *     persisted in cache_info; otherwise the persisted value is applied to the policy
 * @param writebackDirtyPercent how much of the cache's data space (percent, 0..90) may stay dirty
 *     while writes keep coming; 0 writes back at once, as dm-pcache (see {@link Writeback})
 * @param dataCrcExplicit whether {@code dataCrc} was asked for explicitly: then an existing cache
 *     formatted the other way is refused; otherwise an existing cache keeps what it was formatted
 *     with, and {@code dataCrc} applies only to a new format
 * @param recoverLog what to do when the kset log is corrupt in the middle (valid ksets follow a
 *     bad one): refuse to start (default) or cut the log at the bad kset
 * @param acceptBackingChange whether a cache holding dirty data for another backing device may
 *     be started anyway (its dirty data is then written to this backing device)
 */
public record EngineOptions(boolean dataCrc, Duration ksetFlushDelay, int ksets, Duration fullWait,
    int writebackBatchKsets, int writebackInFlight, long writebackRateBytes, Duration gcInterval,
    boolean gcPercentExplicit, int writebackDirtyPercent, boolean dataCrcExplicit, RecoverLog recoverLog,
    boolean acceptBackingChange) {

  /** What to do with a kset log that is corrupt in the middle. */
  public enum RecoverLog {
    /** Refuse to start, naming the bad kset and what follows it (default). */
    REFUSE,
    /** Cut the log at the bad kset: the keys from there on are dropped, logged as an ERROR. */
    CUT
  }

  public EngineOptions {
    if (writebackDirtyPercent < 0 || writebackDirtyPercent > Writeback.MAX_DIRTY_PERCENT) {
      throw new IllegalArgumentException("writeback dirty percent " + writebackDirtyPercent + " is out of range 0.."
          + Writeback.MAX_DIRTY_PERCENT);
    }
    java.util.Objects.requireNonNull(recoverLog, "recoverLog");
  }

  /** Options with an explicit {@code dataCrc} that refuse a corrupt log and a foreign backing device. */
  public EngineOptions(boolean dataCrc, Duration ksetFlushDelay, int ksets, Duration fullWait,
      int writebackBatchKsets, int writebackInFlight, long writebackRateBytes, Duration gcInterval,
      boolean gcPercentExplicit, int writebackDirtyPercent) {
    this(dataCrc, ksetFlushDelay, ksets, fullWait, writebackBatchKsets, writebackInFlight, writebackRateBytes,
        gcInterval, gcPercentExplicit, writebackDirtyPercent, true, RecoverLog.REFUSE, false);
  }

  /** Options that write back at once (dm-pcache's writeback). */
  public EngineOptions(boolean dataCrc, Duration ksetFlushDelay, int ksets, Duration fullWait,
      int writebackBatchKsets, int writebackInFlight, long writebackRateBytes, Duration gcInterval,
      boolean gcPercentExplicit) {
    this(dataCrc, ksetFlushDelay, ksets, fullWait, writebackBatchKsets, writebackInFlight, writebackRateBytes,
        gcInterval, gcPercentExplicit, 0);
  }

  /**
   * How many data heads: one per four ksets (so one per CPU by default, as dm-pcache). A key goes
   * to the kset of its stripe (keys of one region must reach the log in the order they entered the
   * index), so with as many ksets as writers, two writers would meet on one kset lock half of the
   * time; with four per CPU, an eighth of the time at two writers. Heads are not bound to stripes
   * (see {@link DataHeads}), and each holds a partly filled 16 MiB segment, so there are fewer.
   */
  public int dataHeads() {
    return Math.max(1, ksets / 4);
  }

  /**
   * The engine's defaults: no data CRCs for a new format (an existing cache keeps its setting), a
   * corrupt log and a foreign backing device refused.
   */
  public static EngineOptions defaults() {
    return new EngineOptions(false, Duration.ofSeconds(1), 4 * Math.max(2, Runtime.getRuntime().availableProcessors()),
        Duration.ofMinutes(5), 16, 64, 0, Duration.ofSeconds(1), false, 0, false, RecoverLog.REFUSE, false);
  }

  /** Asks for data CRCs on or off explicitly (an existing cache formatted the other way is refused). */
  public EngineOptions withDataCrc(boolean on) {
    return new EngineOptions(on, ksetFlushDelay, ksets, fullWait, writebackBatchKsets, writebackInFlight,
        writebackRateBytes, gcInterval, gcPercentExplicit, writebackDirtyPercent, true, recoverLog,
        acceptBackingChange);
  }

  /** Data CRCs for a new format only: an existing cache keeps what it was formatted with. */
  public EngineOptions withDataCrcDefault(boolean on) {
    return new EngineOptions(on, ksetFlushDelay, ksets, fullWait, writebackBatchKsets, writebackInFlight,
        writebackRateBytes, gcInterval, gcPercentExplicit, writebackDirtyPercent, false, recoverLog,
        acceptBackingChange);
  }

  public EngineOptions withKsetFlushDelay(Duration d) {
    return new EngineOptions(dataCrc, d, ksets, fullWait, writebackBatchKsets, writebackInFlight,
        writebackRateBytes, gcInterval, gcPercentExplicit, writebackDirtyPercent, dataCrcExplicit,
        recoverLog, acceptBackingChange);
  }

  public EngineOptions withFullWait(Duration d) {
    return new EngineOptions(dataCrc, ksetFlushDelay, ksets, d, writebackBatchKsets, writebackInFlight,
        writebackRateBytes, gcInterval, gcPercentExplicit, writebackDirtyPercent, dataCrcExplicit,
        recoverLog, acceptBackingChange);
  }

  public EngineOptions withWritebackBatchKsets(int n) {
    return new EngineOptions(dataCrc, ksetFlushDelay, ksets, fullWait, n, writebackInFlight,
        writebackRateBytes, gcInterval, gcPercentExplicit, writebackDirtyPercent, dataCrcExplicit,
        recoverLog, acceptBackingChange);
  }

  public EngineOptions withWritebackInFlight(int n) {
    return new EngineOptions(dataCrc, ksetFlushDelay, ksets, fullWait, writebackBatchKsets, n,
        writebackRateBytes, gcInterval, gcPercentExplicit, writebackDirtyPercent, dataCrcExplicit,
        recoverLog, acceptBackingChange);
  }

  public EngineOptions withGcInterval(Duration d) {
    return new EngineOptions(dataCrc, ksetFlushDelay, ksets, fullWait, writebackBatchKsets,
        writebackInFlight, writebackRateBytes, d, gcPercentExplicit, writebackDirtyPercent, dataCrcExplicit,
        recoverLog, acceptBackingChange);
  }

  public EngineOptions withGcPercentExplicit(boolean explicit) {
    return new EngineOptions(dataCrc, ksetFlushDelay, ksets, fullWait, writebackBatchKsets,
        writebackInFlight, writebackRateBytes, gcInterval, explicit, writebackDirtyPercent, dataCrcExplicit,
        recoverLog, acceptBackingChange);
  }

  public EngineOptions withWritebackRate(long bytesPerSecond) {
    return new EngineOptions(dataCrc, ksetFlushDelay, ksets, fullWait, writebackBatchKsets,
        writebackInFlight, bytesPerSecond, gcInterval, gcPercentExplicit, writebackDirtyPercent,
        dataCrcExplicit, recoverLog, acceptBackingChange);
  }

  public EngineOptions withWritebackDirtyPercent(int percent) {
    return new EngineOptions(dataCrc, ksetFlushDelay, ksets, fullWait, writebackBatchKsets,
        writebackInFlight, writebackRateBytes, gcInterval, gcPercentExplicit, percent, dataCrcExplicit,
        recoverLog, acceptBackingChange);
  }

  public EngineOptions withRecoverLog(RecoverLog mode) {
    return new EngineOptions(dataCrc, ksetFlushDelay, ksets, fullWait, writebackBatchKsets,
        writebackInFlight, writebackRateBytes, gcInterval, gcPercentExplicit, writebackDirtyPercent,
        dataCrcExplicit, mode, acceptBackingChange);
  }

  public EngineOptions withAcceptBackingChange(boolean accept) {
    return new EngineOptions(dataCrc, ksetFlushDelay, ksets, fullWait, writebackBatchKsets,
        writebackInFlight, writebackRateBytes, gcInterval, gcPercentExplicit, writebackDirtyPercent,
        dataCrcExplicit, recoverLog, accept);
  }
}
