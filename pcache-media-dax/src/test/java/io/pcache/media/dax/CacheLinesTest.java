package io.pcache.media.dax;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The devdax write-back function: its machine code, and that it runs here without changing memory. */
class CacheLinesTest {

  @Test
  void machineCodeIsTheDocumentedLoop() {
    HexFormat hex = HexFormat.of();
    assertEquals("4801fe" + "4839f7" + "730d" + "660fae37" + "4883c740" + "4839f7" + "72f3" + "0faef8" + "c3",
        hex.formatHex(CacheLines.code("clwb")));
    assertEquals("660fae3f", hex.formatHex(Arrays.copyOfRange(CacheLines.code("clflushopt"), 8, 12)));
    assertEquals("900fae3f", hex.formatHex(Arrays.copyOfRange(CacheLines.code("clflush"), 8, 12)));
    for (String instruction : List.of("clwb", "clflushopt", "clflush")) {
      assertEquals(CacheLines.CODE_SIZE, CacheLines.code(instruction).length);
    }
    assertThrows(IllegalArgumentException.class, () -> CacheLines.code("wbinvd"));
  }

  @Test
  void theInstructionIsChosenAsHotSpotChoosesIt() {
    assertEquals("clwb", CacheLines.choose(List.of("sse2", "clflush", "clflushopt", "clwb")));
    assertEquals("clflushopt", CacheLines.choose(List.of("clflush", "clflushopt")));
    assertEquals("clflush", CacheLines.choose(List.of("clflush")));
  }

  @Test
  void writeBackRunsOverAnyRangeAndChangesNothing() {
    String arch = System.getProperty("os.arch");
    assumeTrue(arch.equals("amd64") || arch.equals("x86_64"), "x86-64 only");
    assertTrue(CacheLines.available(), "write-back unavailable: " + CacheLines.unavailableReason());
    try (Arena arena = Arena.ofConfined()) {
      long size = 4 * CacheLines.CHUNK + 4096 + 64; // more than 1 MiB, not a whole number of chunks
      MemorySegment s = arena.allocate(size, 4096);
      byte[] pattern = new byte[(int) size];
      new java.util.SplittableRandom(3).nextBytes(pattern);
      MemorySegment.copy(pattern, 0, s, ValueLayout.JAVA_BYTE, 0, pattern.length);
      CacheLines.writeBack(s);
      CacheLines.writeBack(s.asSlice(64, 1));
      CacheLines.writeBack(s.asSlice(128, 0));
      CacheLines.writeBack(s.asSlice(CacheLines.CHUNK - 64, 128));
      assertArrayEquals(pattern, s.toArray(ValueLayout.JAVA_BYTE));
      assertThrows(IllegalArgumentException.class, () -> CacheLines.writeBack(s.asSlice(3, 10)),
          "a range must start on a cache line");

      // Cost on this machine (printed, not asserted): write-back of a dirty 4 KiB and of 1 MiB.
      MemorySegment page = s.asSlice(0, 4096);
      int rounds = 20_000;
      long t0 = System.nanoTime();
      for (int i = 0; i < rounds; i++) {
        page.set(ValueLayout.JAVA_LONG, (i & 63) * 64L, i);
        CacheLines.writeBack(page);
      }
      long perPage = (System.nanoTime() - t0) / rounds;
      MemorySegment mib = s.asSlice(0, 1 << 20);
      long t1 = System.nanoTime();
      for (int i = 0; i < 200; i++) {
        CacheLines.writeBack(mib);
      }
      long perMib = (System.nanoTime() - t1) / 200;
      System.out.println("CacheLines (" + CacheLines.instruction() + ") on this machine: write-back of 4 KiB "
          + perPage + " ns, of 1 MiB " + perMib + " ns");
    }
    assertThrows(IllegalStateException.class, () -> {
      MemorySegment closed;
      try (Arena a = Arena.ofConfined()) {
        closed = a.allocate(64, 64);
      }
      CacheLines.writeBack(closed);
    }, "a closed region is refused before the native call");
  }

  @Test
  void errnoTextNamesNumberAndName() {
    assumeTrue(Posix.available(), Posix.unavailableReason());
    String text = Posix.describe(Posix.EOPNOTSUPP);
    assertTrue(text.contains("errno 95, EOPNOTSUPP") && text.toLowerCase().contains("not supported"), text);
  }
}
