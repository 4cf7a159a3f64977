package io.pcache.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingOptions;
import io.pcache.api.gc.CacheUsage;
import io.pcache.api.gc.GcPolicy;
import io.pcache.backing.block.BlockBackingProvider;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.engine.EngineOptions;
import io.pcache.core.format.BackingRecord;
import io.pcache.testkit.MemoryMedia;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cache knows its backing device, on real image files through the block backing plugin: two
 * files of the same size are two devices (by device and inode, not by name or content), a moved
 * file is still the same one.
 */
class BackingFileIdentityTest {

  static final long SIZE = 16L << 20;
  static final int LEN = 64 << 10;

  @TempDir Path dir;
  final MemoryMedia media = MemoryMedia.allocate("mem:cache", 512L << 20);
  final BlockBackingProvider provider = new BlockBackingProvider();

  /** No GC pressure: the tests write a few blocks. */
  static final class NoGc implements GcPolicy {
    @Override
    public int segmentsToReclaim(CacheUsage usage) {
      return 0;
    }

    @Override
    public Map<String, String> parameters() {
      return Map.of();
    }

    @Override
    public void setParameter(String key, String value) {
      throw new IllegalArgumentException(key);
    }
  }

  private BackingDevice backing(Path file) throws IOException {
    return provider.open(file.toString(), new BackingOptions(SIZE, false, false));
  }

  private CacheEngine open(BackingDevice backing) throws IOException {
    return CacheEngine.open(media.reopen(), backing, EngineOptions.defaults(), new NoGc());
  }

  private static byte[] pattern(byte value) {
    byte[] b = new byte[LEN];
    Arrays.fill(b, value);
    return b;
  }

  private static byte[] head(Path file) throws IOException {
    return Arrays.copyOf(Files.readAllBytes(file), LEN);
  }

  @Test
  void dirtyDataOfOneImageFileIsNeverWrittenToAnother() throws Exception {
    Path a = dir.resolve("a.img");
    Path b = dir.resolve("b.img");
    try (BackingDevice deviceA = backing(a); CacheEngine e = open(deviceA)) {
      e.writeback().pause();
      e.write(0, MemorySegment.ofArray(pattern((byte) 0x11)), false);
      e.flush();
      assertFalse(e.clean());
    }
    try (BackingDevice deviceB = backing(b)) {
      IOException refused = assertThrows(IOException.class, () -> open(deviceB));
      String m = refused.getMessage();
      assertTrue(m.contains("file dev ") && m.contains(" ino "), m);
      assertTrue(m.contains(a.toRealPath().toString()) && m.contains(b.toRealPath().toString()), "names both files: " + m);
    }
    assertArrayEquals(new byte[LEN], head(a), "nothing written to a.img");
    assertArrayEquals(new byte[(int) SIZE], Files.readAllBytes(b), "nothing written to b.img");

    // The same file, moved: the same device; its dirty data goes to it.
    Path moved = Files.createDirectories(dir.resolve("moved")).resolve("a-renamed.img");
    Files.move(a, moved);
    try (BackingDevice deviceA = backing(moved); CacheEngine e = open(deviceA)) {
      long mark = e.drainMark();
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (!e.writtenBack(mark)) {
        assertTrue(System.nanoTime() < deadline, "writeback did not drain in 30 s");
        Thread.sleep(2);
      }
    }
    assertArrayEquals(pattern((byte) 0x11), head(moved));
    BackingRecord.Found found = BackingRecord.load(media);
    assertEquals("file", found.stored().identity().kind());
    assertEquals(moved.toRealPath().toString(), found.stored().identity().description());
  }
}
