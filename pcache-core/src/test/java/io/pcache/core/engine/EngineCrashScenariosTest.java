package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.core.format.Layout;
import io.pcache.testkit.CrashingBacking;
import io.pcache.testkit.CrashingMedia;
import io.pcache.testkit.PowerSupply;
import io.pcache.testkit.PowerSupply.CutMode;
import io.pcache.testkit.Seeds;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Power cuts at chosen points of the engine's own work, each reproducing a crash window that the
 * random crash test ({@link EngineCrashTest}) found or could find only rarely.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class EngineCrashScenariosTest {

  static final long MEDIA = 512L << 20;
  static final long BACKING = 32L << 20;

  static EngineOptions quiet() {
    // One kset (every key in log order in one buffer), ksets closed only by flush, GC idle at 90 %.
    return new EngineOptions(false, Duration.ofHours(1), 1, Duration.ofSeconds(5), 16, 8, 0, Duration.ofMillis(20),
        false);
  }

  static byte[] read(CacheEngine e, long off, int len) throws Exception {
    MemorySegment dst = MemorySegment.ofArray(new byte[len]);
    e.read(off, dst);
    return dst.toArray(ValueLayout.JAVA_BYTE);
  }

  static void awaitClean(CacheEngine e) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!e.clean() && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertTrue(e.clean(), e.positions());
  }

  /**
   * GC's crash window: GC passes a kset holding an old discard (zero extent, a segment that stays
   * alive) and a newer write over the same range whose segment it then reclaims; the power goes
   * before key_tail is persisted. Replay sees the write's key stale and must not let the older
   * discard key come back: the data (written back before GC could pass it) is read from the
   * backing device.
   *
   * <p>Found by {@link EngineCrashTest} (seed 2297622329584, sector 12911 read zeros instead of a
   * flushed write).
   */
  @Test
  void aStaleKeyInGcsCrashWindowStillHidesOlderKeysOfItsRange() throws Exception {
    SplittableRandom r = Seeds.random("EngineCrashScenariosTest.aStaleKeyInGcsCrashWindowStillHidesOlderKeysOfItsRange");
    PowerSupply power = new PowerSupply();
    CrashingMedia media = CrashingMedia.allocate("crash:cache", MEDIA, power);
    CrashingBacking backing = CrashingBacking.allocate("crash:backing", BACKING, power);
    CacheEngine e = CacheEngine.open(media, backing, quiet(), new TestPolicy(90));
    e.discard(0, 4L << 20);
    // 16 MiB of data: fills the data head's segment (16 MiB - 12 KiB of data) so that the head lets
    // it go, and GC passing this one kset drops its last reference.
    byte[] data = new byte[16 << 20];
    r.nextBytes(data);
    e.write(0, MemorySegment.ofArray(data), false);
    e.flush();
    awaitClean(e);
    media.armCrashAtWrite(Layout.CACHE_CTRL_OFF, 2L * Layout.POS_STRUCT_SIZE, r, CutMode.LOSE_ALL);
    long freedBefore = e.stats().gcSegmentsFreed.sum();
    e.setGcPercent(0);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!power.down() && System.nanoTime() < deadline) {
      Thread.sleep(2);
    }
    assertTrue(power.down(), "GC never wrote key_tail: " + e.positions());
    assertTrue(e.stats().gcSegmentsFreed.sum() > freedBefore, "GC reclaimed no segment before the cut");
    e.close();

    // Restart with GC idle again (explicit 90 %), so that reads meet the replayed keys.
    CacheEngine e2 = CacheEngine.open(media.reopen(), backing.reopen(), quiet().withGcPercentExplicit(true),
        new TestPolicy(90));
    assertTrue(e2.replayReport().staleKeys() > 0, "the cut missed GC's window: " + e2.replayReport());
    byte[] first = read(e2, 0, 4 << 20);
    assertEquals(-1, java.util.Arrays.mismatch(java.util.Arrays.copyOf(data, 4 << 20), first),
        "an older discard came back over data that was written back: " + e2.replayReport());
    assertArrayEquals(data, read(e2, 0, 16 << 20));
    e2.close();
  }

  /**
   * GC's crash window again, this time with the reclaimed data segment reused for the kset log
   * before the power goes: GC passes a kset, the last reference to data segment S goes, S is
   * invalidated and freed, the log takes S as its next kset segment, and the power goes before
   * key_tail moves. Replay meets the stale keys into S again; if it counts references for them,
   * GC drops those references later and "invalidates" S while S holds the log, so the next data
   * allocation overwrites the log and every write after it is lost.
   */
  @Test
  void aSegmentReclaimedInGcsCrashWindowAndReusedForTheLogIsNotFreedAgain() throws Exception {
    SplittableRandom r = Seeds.random(
        "EngineCrashScenariosTest.aSegmentReclaimedInGcsCrashWindowAndReusedForTheLogIsNotFreedAgain");
    PowerSupply power = new PowerSupply();
    CrashingMedia media = CrashingMedia.allocate("crash:cache", MEDIA, power);
    CrashingBacking backing = CrashingBacking.allocate("crash:backing", 128L << 20, power);
    CacheEngine e = CacheEngine.open(media, backing, quiet(), new TestPolicy(90));
    byte[] data = new byte[16 << 20];
    r.nextBytes(data);
    e.write(0, MemorySegment.ofArray(data), false);
    e.flush();
    int s1;
    Stripe st = e.index.stripe(0);
    st.lock.lock();
    try {
      s1 = st.all().get(0).segId;
    } finally {
      st.lock.unlock();
    }
    // Age the log until one more full kset does not fit in its segment.
    long sector = 100L << 20;
    while (Layout.SEG_DATA_SIZE - e.log.head().off() >= Layout.KSET_SIZE_MAX + Layout.KSET_HEADER_SIZE) {
      for (int i = 0; i < Layout.KSET_KEYS_MAX; i++) {
        e.discard(sector, 512);
      }
    }
    awaitClean(e);
    assertEquals(0, e.log.head().segId());

    // GC passes the first kset (the 16 MiB write) and frees s1; hold it at its key_tail write.
    media.holdWriteAt(Layout.CACHE_CTRL_OFF, 2L * Layout.POS_STRUCT_SIZE);
    e.setGcPercent(0);
    assertTrue(media.awaitHeldWrite(Duration.ofSeconds(10)), "GC never wrote key_tail: " + e.positions());
    assertTrue(!e.segments.map().isUsed(s1), "segment " + s1 + " should have been reclaimed");
    // Leave s1 as the only free segment, so that the log takes it next.
    for (int id = 0; id < e.segments.count(); id++) {
      if (id != s1) {
        e.segments.map().markUsed(id);
      }
    }
    for (int i = 0; i < Layout.KSET_KEYS_MAX; i++) {
      e.discard(sector, 512);
    }
    assertEquals(s1, e.log.head().segId(), "the log should have moved into segment " + s1 + ": " + e.positions());
    power.cut(r, CutMode.LOSE_ALL);
    media.releaseHeldWrite();
    e.close();

    // Restart: GC passes the stale keys into s1 again; s1 must stay in use, it holds the log.
    EngineOptions gcAll = quiet().withGcPercentExplicit(true);
    CacheEngine e2 = CacheEngine.open(media.reopen(), backing.reopen(), gcAll, new TestPolicy(0));
    assertTrue(e2.replayReport().staleKeys() > 0, e2.replayReport().toString());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!e2.log.keyTail().equals(e2.log.dirtyTail()) && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertEquals(s1, e2.log.head().segId());
    assertTrue(e2.segments.map().isUsed(s1), "GC freed segment " + s1 + " while it holds the kset log: "
        + e2.positions());
    // End to end: new data, kept in the cache only (writeback paused), must survive a restart.
    e2.writeback().pause();
    byte[] more = new byte[48 << 20];
    r.nextBytes(more);
    e2.write(16L << 20, MemorySegment.ofArray(more), true);
    e2.close();
    CacheEngine e3 = CacheEngine.open(media.reopen(), backing.reopen(), gcAll, new TestPolicy(0));
    assertArrayEquals(more, read(e3, 16L << 20, 48 << 20), "writes after the reused log segment were lost: "
        + e3.replayReport() + " " + e3.positions());
    assertArrayEquals(data, read(e3, 0, 16 << 20));
    e3.close();
  }

  /**
   * A power cut during the very last step of formatting a blank device (the superblock write),
   * with each pending word kept or lost at random: whatever survives, the next start must work
   * (nothing was cached yet, so formatting again is right).
   */
  @Test
  void aCutWhileTheSuperblockIsWrittenLeavesAStartableDevice() throws Exception {
    SplittableRandom r = Seeds.random("EngineCrashScenariosTest.aCutWhileTheSuperblockIsWrittenLeavesAStartableDevice");
    // Formatting is deterministic: count its device operations once.
    PowerSupply counter = new PowerSupply();
    CrashingMedia scratch = CrashingMedia.allocate("crash:count", MEDIA, counter);
    CacheFormat.format(scratch, false, 70);
    long formatOps = counter.operations();
    scratch = null;
    PowerSupply power = new PowerSupply();
    CrashingMedia media = CrashingMedia.allocate("crash:cache", MEDIA, power);
    CrashingBacking backing = CrashingBacking.allocate("crash:backing", 16L << 20, power);
    // The superblock through cache_ctrl and segment 0's header: what a blank device has zero.
    MemorySegment zero = MemorySegment.ofArray(new byte[(int) (Layout.SEGMENTS_OFF + Layout.SEG_DATA_OFF - Layout.SB_OFF)]);
    int torn = 0;
    for (int attempt = 0; attempt < 24; attempt++) {
      media.write(Layout.SB_OFF, zero);
      media.persist(Layout.SB_OFF, zero.byteSize());
      // The last operations of the format write and persist the superblock.
      media.armCrash(formatOps - attempt % 3, r.split());
      try {
        CacheEngine.open(media, backing, quiet(), new TestPolicy(70)).close();
      } catch (java.io.IOException e) {
        // the process is dead after the cut: what it reads from the frozen image is meaningless
      }
      assertTrue(power.down(), "the cut did not happen during the format");
      media = media.reopen();
      backing = backing.reopen();
      MemorySegment sb = media.image().asSlice(Layout.SB_OFF, 24);
      boolean magic = sb.get(ValueLayout.JAVA_LONG_UNALIGNED, 8) == Layout.SB_MAGIC;
      boolean rest = sb.get(ValueLayout.JAVA_LONG_UNALIGNED, 0) != 0 && sb.get(ValueLayout.JAVA_LONG_UNALIGNED, 16) != 0;
      if (magic != rest) {
        torn++;
      }
      CacheEngine e2 = CacheEngine.open(media, backing, quiet(), new TestPolicy(70));
      byte[] four = new byte[4096];
      r.nextBytes(four);
      e2.write(0, MemorySegment.ofArray(four), true);
      assertArrayEquals(four, read(e2, 0, 4096));
      e2.close();
      media = media.reopen();
      backing = backing.reopen();
    }
    assertTrue(torn > 0, "no attempt tore the superblock");
  }
}
