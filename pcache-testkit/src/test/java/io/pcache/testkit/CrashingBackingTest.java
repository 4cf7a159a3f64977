package io.pcache.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.BlockIOException;
import io.pcache.testkit.PowerSupply.CutMode;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CrashingBackingTest {

  private static final int SIZE = 1 << 20;

  private static byte[] read(CrashingBacking b, long off, int len) throws BlockIOException {
    MemorySegment dst = MemorySegment.ofArray(new byte[len]);
    b.read(off, dst);
    return dst.toArray(ValueLayout.JAVA_BYTE);
  }

  @Test
  void unflushedWritesAreLostAndFlushedOnesKept() throws Exception {
    CrashingBacking b = CrashingBacking.allocate("crash:backing", SIZE);
    byte[] one = new byte[4096];
    java.util.Arrays.fill(one, (byte) 1);
    byte[] two = new byte[4096];
    java.util.Arrays.fill(two, (byte) 2);
    b.write(0, MemorySegment.ofArray(one));
    b.flush();
    b.write(0, MemorySegment.ofArray(two));
    b.writeZeroes(8192, 4096);
    b.write(8192, MemorySegment.ofArray(two)); // first old value (zeros from the start) wins
    assertEquals(16, b.pendingSectors());
    b.crash(new SplittableRandom(1), CutMode.LOSE_ALL);
    b.write(16384, MemorySegment.ofArray(two));
    b.flush();
    assertArrayEquals(one, read(b, 0, 4096));
    assertArrayEquals(new byte[4096], read(b, 8192, 4096));
    assertArrayEquals(new byte[4096], read(b, 16384, 4096), "a dead device must not store");
    CrashingBacking again = b.reopen();
    again.write(16384, MemorySegment.ofArray(two));
    assertArrayEquals(two, read(again, 16384, 4096));
    assertThrows(BlockIOException.class, () -> again.write(100, MemorySegment.ofArray(two)));
  }

  @Test
  void everySectorIsEitherFlushedOrLatestAfterACut() throws Exception {
    SplittableRandom r = Seeds.random("CrashingBackingTest.everySectorIsEitherFlushedOrLatestAfterACut");
    CrashingBacking b = CrashingBacking.allocate("crash:backing-model", SIZE);
    byte[] durable = new byte[SIZE];
    byte[] latest = new byte[SIZE];
    int kept = 0;
    int lost = 0;
    for (int round = 0; round < 80; round++) {
      for (int op = 0; op < 30; op++) {
        int sectors = SIZE / 512;
        int s = r.nextInt(sectors);
        int n = 1 + r.nextInt(Math.min(sectors - s, 64));
        if (r.nextInt(10) == 0) {
          b.flush();
          System.arraycopy(latest, 0, durable, 0, SIZE);
        } else {
          byte[] data = new byte[n * 512];
          r.nextBytes(data);
          b.write(s * 512L, MemorySegment.ofArray(data));
          System.arraycopy(data, 0, latest, s * 512, data.length);
        }
      }
      b.crash(r);
      byte[] image = read(b, 0, SIZE);
      for (int s = 0; s < SIZE; s += 512) {
        boolean isLatest = java.util.Arrays.equals(image, s, s + 512, latest, s, s + 512);
        boolean isDurable = java.util.Arrays.equals(image, s, s + 512, durable, s, s + 512);
        assertTrue(isLatest || isDurable, "round " + round + ": sector at " + s + " is torn or foreign");
        if (!java.util.Arrays.equals(latest, s, s + 512, durable, s, s + 512)) {
          if (isLatest) {
            kept++;
          } else {
            lost++;
          }
        }
      }
      System.arraycopy(image, 0, durable, 0, SIZE);
      System.arraycopy(image, 0, latest, 0, SIZE);
      b = b.reopen();
    }
    assertTrue(kept > 0 && lost > 0, "kept " + kept + " lost " + lost);
  }
}
