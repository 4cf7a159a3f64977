package io.pcache.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingOptions;
import io.pcache.api.gc.GcPolicy;
import io.pcache.backing.block.BlockBackingProvider;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.engine.EngineOptions;
import io.pcache.testkit.MemoryMedia;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The backing image file truncated under a running engine, through the real block plugin: the file
 * is not extended again by writeback, the data past its new end stays dirty in the cache, and once
 * the file has its size again writeback puts that data into it.
 */
class BackingImageTruncatedTest {

  private static final int BLOCK = 4096;
  private static final long SIZE = 16L << 20;
  private static final long TRUNCATED = 8L << 20;
  private static final long HIGH = 12L << 20;
  private static final int SPAN = 64 * BLOCK;

  @TempDir Path dir;

  private static boolean waitFor(BooleanSupplier done, Duration limit) throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!done.getAsBoolean() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    return done.getAsBoolean();
  }

  private static void truncate(Path file, long bytes) throws Exception {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(bytes);
    }
  }

  private static byte[] readFile(Path file, long off, int len) throws Exception {
    byte[] got = new byte[len];
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
      f.seek(off);
      f.readFully(got);
    }
    return got;
  }

  @Test
  void writebackDoesNotExtendATruncatedImageAndFinishesWhenItsSizeIsBack() throws Exception {
    Path image = dir.resolve("backing.img");
    byte[] data = new byte[SPAN];
    for (int i = 0; i < SPAN; i += BLOCK) {
      MemorySegment.ofArray(data).asSlice(i, BLOCK).fill((byte) (i / BLOCK + 1));
    }
    GcPolicy noGc = usage -> 0;
    try (BackingDevice backing = new BlockBackingProvider().open("file:" + image, new BackingOptions(SIZE, false, false))) {
      CacheEngine e = CacheEngine.open(MemoryMedia.allocate("mem:cache", 512L << 20), backing,
          EngineOptions.defaults().withKsetFlushDelay(Duration.ofMillis(10)), noGc);
      try {
        e.writeback().pause();
        e.write(HIGH, MemorySegment.ofArray(data), false);
        e.flush();
        truncate(image, TRUNCATED); // as truncate -s 8M on the image under the running pcache
        e.writeback().resume();

        assertTrue(waitFor(() -> e.writeback().backingShrink() != null, Duration.ofSeconds(20)), e.positions());
        Thread.sleep(1000); // retries
        assertTrue(e.writeback().backingShrink().startsWith("backing device file:" + image + " shrank from " + SIZE
            + " to " + TRUNCATED + " bytes: " + SPAN + " dirty bytes at offsets [" + HIGH + ", " + (HIGH + SPAN) + ")"),
            e.writeback().backingShrink());
        assertEquals(TRUNCATED, Files.size(image), "writeback extended the truncated image again");
        assertEquals(SPAN, e.counters().get("dirty_bytes"));
        MemorySegment got = MemorySegment.ofArray(new byte[SPAN]);
        e.read(HIGH, got);
        assertArrayEquals(data, got.toArray(ValueLayout.JAVA_BYTE), "the data past the end, read through the cache");

        truncate(image, SIZE); // the operator restores the size
        assertTrue(waitFor(e::clean, Duration.ofSeconds(20)), e.positions() + ": " + e.writeback().backingShrink());
        assertNull(e.writeback().backingShrink());
        assertArrayEquals(data, readFile(image, HIGH, SPAN), "written back once the image has its size again");
      } finally {
        e.close();
      }
    }
  }
}
