package io.pcache.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.BlockIOException;
import io.pcache.testkit.FaultyBacking.Op;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FaultyBackingTest {

  private static final MemorySegment SECTOR = MemorySegment.ofArray(new byte[512]);

  private static FaultyBacking device(long seed) {
    return new FaultyBacking(MemoryBacking.allocate("mem:faulty", 1 << 20), new SplittableRandom(seed));
  }

  @Test
  void failNextFailsExactlyThatManyCalls() throws Exception {
    FaultyBacking f = device(1).failNext(Op.WRITE, 2);
    BlockIOException e = assertThrows(BlockIOException.class, () -> f.write(512, SECTOR));
    assertEquals(BlockIOException.Errno.EIO, e.errno());
    assertTrue(e.getMessage().contains("mem:faulty") && e.getMessage().contains("512"), e.getMessage());
    assertThrows(BlockIOException.class, () -> f.write(512, SECTOR));
    f.write(512, SECTOR);
    f.read(0, MemorySegment.ofArray(new byte[512]));
    assertEquals(3, f.calls(Op.WRITE));
    assertEquals(2, f.failures(Op.WRITE));
    assertEquals(1, f.calls(Op.READ));
    assertEquals(0, f.failures(Op.READ));
  }

  @Test
  void rangeAndAlwaysFaultsAreSwitchedAtRunTime() throws Exception {
    FaultyBacking f = device(2).failRange(Op.READ, 4096, 4096);
    f.read(0, MemorySegment.ofArray(new byte[4096]));
    assertThrows(BlockIOException.class, () -> f.read(2048, MemorySegment.ofArray(new byte[4096])));
    f.read(8192, MemorySegment.ofArray(new byte[512]));
    f.failAlways(Op.FLUSH, true);
    assertThrows(BlockIOException.class, f::flush);
    f.clearFaults();
    f.flush();
    f.read(4096, MemorySegment.ofArray(new byte[4096]));
    assertEquals(1, f.failures(Op.READ));
    assertEquals(1, f.failures(Op.FLUSH));
  }

  @Test
  void probabilisticFaultsFailAboutThatOften() throws Exception {
    FaultyBacking f = device(3).failWithProbability(Op.WRITE_ZEROES, 0.3);
    int failed = 0;
    for (int i = 0; i < 2000; i++) {
      try {
        f.writeZeroes(0, 512);
      } catch (BlockIOException e) {
        failed++;
      }
    }
    assertEquals(failed, f.failures(Op.WRITE_ZEROES));
    assertTrue(failed > 450 && failed < 750, "failed " + failed + " of 2000 at p=0.3");
  }

  @Test
  void tornFailedWritesLeaveGarbageAndDelaysSlowCallsDown() throws Exception {
    MemoryBacking mem = MemoryBacking.allocate("mem:torn", 1 << 20);
    FaultyBacking f = new FaultyBacking(mem, new SplittableRandom(4)).tearFailedWrites(true).failNext(Op.WRITE, 1);
    assertThrows(BlockIOException.class, () -> f.write(0, MemorySegment.ofArray(new byte[64 << 10])));
    byte[] after = new byte[64 << 10];
    f.read(0, MemorySegment.ofArray(after));
    assertFalse(java.util.Arrays.equals(new byte[64 << 10], after), "a torn write should have left garbage");
    f.write(0, MemorySegment.ofArray(new byte[64 << 10]));
    f.read(0, MemorySegment.ofArray(after));
    assertArrayEquals(new byte[64 << 10], after);
    f.delay(Op.READ, Duration.ofMillis(20));
    long start = System.nanoTime();
    f.read(0, MemorySegment.ofArray(new byte[512]));
    assertTrue(System.nanoTime() - start >= 20_000_000L);
    assertTrue(f.counters().contains("read=3/0failed"), f.counters());
  }

  @Test
  void failedReadsCanScribbleOverTheBuffer() throws Exception {
    FaultyBacking f = device(5).scribbleFailedReads(true).failNext(Op.READ, 1);
    byte[] dst = new byte[4096];
    assertThrows(BlockIOException.class, () -> f.read(0, MemorySegment.ofArray(dst)));
    assertFalse(java.util.Arrays.equals(new byte[4096], dst), "the buffer should hold garbage");
    f.read(0, MemorySegment.ofArray(dst));
    assertArrayEquals(new byte[4096], dst);
  }
}
