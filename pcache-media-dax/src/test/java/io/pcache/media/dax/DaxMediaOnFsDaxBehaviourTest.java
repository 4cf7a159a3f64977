package io.pcache.media.dax;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.PersistenceDomain;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the fsdax driver does beyond the conformance suite, on a real DAX mount (same switch as
 * {@link DaxMediaOnFsDaxTest}): preallocation, hole filling, the DAX attribute, the lock against
 * another process, probe and capabilities, and the cost of persist (printed as {@code TIMING}
 * lines for the implementation notes; under the VM harness's TCG they show behaviour only).
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class DaxMediaOnFsDaxBehaviourTest {

  private final DaxMediaProvider provider = new DaxMediaProvider();
  private Path dir;

  @BeforeAll
  static void requireDaxDirectory() {
    assumeTrue(DaxTestEnvironment.daxDir() != null, DaxTestEnvironment.NO_DAX_DIR);
  }

  @BeforeEach
  void makeDirectory() throws IOException {
    dir = Files.createTempDirectory(DaxTestEnvironment.daxDir(), "pcache-dax-behaviour-");
  }

  @AfterEach
  void deleteDirectory() throws IOException {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  @Test
  void aCreatedFileIsDaxPreallocatedAndZero() throws IOException {
    Path image = dir.resolve("cache.img");
    long size = 24L << 20;
    assertEquals(DaxMediaProvider.DAX_FIT, provider.probe(image.toString()), "a creatable file on the DAX mount");
    long t0 = System.nanoTime();
    try (CacheMedia media = provider.open(image.toString(), MediaOptions.create(size))) {
      long createMicros = (System.nanoTime() - t0) / 1000;
      System.out.println("TIMING create+preallocate+map " + (size >> 20) + " MiB: " + createMicros + " us");
      assertEquals(PersistenceDomain.DAX, media.persistenceDomain());
      assertEquals(DaxMedia.Kind.FSDAX, ((DaxMedia) media).kind());
      FileStat stat = FileStat.ofPath(image.toString());
      assertTrue(stat.daxReported() && stat.dax(), "statx must report STATX_ATTR_DAX: " + stat);
      assertTrue(stat.allocated() >= size, "every block allocated (no holes): " + stat);
      byte[] all = new byte[(int) size];
      media.read(0, MemorySegment.ofArray(all));
      assertArrayEquals(new byte[(int) size], all, "new media reads as zeros");
    }
    assertEquals(DaxMediaProvider.DAX_FIT, provider.probe(image.toString()), "an existing file on the DAX mount");
  }

  @Test
  void aSparseFileGetsItsHolesFilledAndKeepsItsData() throws IOException {
    Path image = dir.resolve("sparse.img");
    long size = 16L << 20;
    byte[] data = new byte[10_000];
    new SplittableRandom(11).nextBytes(data);
    try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(size);
      f.seek(5L << 20);
      f.write(data);
    }
    FileStat before = FileStat.ofPath(image.toString());
    assertTrue(before.isSparse(), "the test file must start sparse: " + before);
    try (CacheMedia media = provider.open(image.toString(), MediaOptions.existing())) {
      FileStat after = FileStat.ofPath(image.toString());
      assertTrue(after.allocated() >= size, "holes filled: " + after);
      byte[] back = new byte[data.length];
      media.read(5L << 20, MemorySegment.ofArray(back));
      assertArrayEquals(data, back, "data kept");
      byte[] head = new byte[4096];
      media.read(0, MemorySegment.ofArray(head));
      assertArrayEquals(new byte[4096], head);
    }
  }

  @Test
  void aReadOnlyOpenOfASparseFileChangesNothing() throws IOException {
    Path image = dir.resolve("sparse-ro.img");
    try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(8L << 20);
    }
    long allocated = FileStat.ofPath(image.toString()).allocated();
    try (CacheMedia media = provider.open(image.toString(), MediaOptions.inspect())) {
      assertTrue(media.mapping().isReadOnly());
    }
    assertEquals(allocated, FileStat.ofPath(image.toString()).allocated(), "read-only must not allocate");
  }

  @Test
  void tooLargeMediaIsRefusedNamingTheFreeSpace() throws IOException {
    Path image = dir.resolve("huge.img");
    long free = Files.getFileStore(dir).getUsableSpace();
    IOException e = assertThrows(IOException.class,
        () -> provider.open(image.toString(), MediaOptions.create(free + (1L << 30))).close());
    assertTrue(e.getMessage().contains("has only") && e.getMessage().contains("bytes free"), e.getMessage());
    assertTrue(!Files.exists(image), "nothing left behind");
  }

  @Test
  void anotherProcessIsRefusedWhileReadOnlyOpensShare() throws Exception {
    Path image = dir.resolve("locked.img");
    provider.open(image.toString(), MediaOptions.create(8L << 20)).close();
    try (CacheMedia held = provider.open(image.toString(), MediaOptions.existing());
        ChildProcess child = ChildProcess.hold(image, false)) {
      String outcome = child.outcome();
      assertTrue(outcome.startsWith("REFUSED") && outcome.contains("in use by another pcache process"), outcome);
      assertEquals(8L << 20, held.size());
    }
    try (ChildProcess child = ChildProcess.hold(image, true)) {
      assertEquals("OPEN DAX", child.outcome());
      try (CacheMedia readOnly = provider.open(image.toString(), MediaOptions.inspect())) {
        assertTrue(readOnly.mapping().isReadOnly());
      }
      IOException e = assertThrows(IOException.class,
          () -> provider.open(image.toString(), MediaOptions.existing()).close());
      assertTrue(e.getMessage().contains("another pcache process"), e.getMessage());
    }
  }

  @Test
  void capabilitiesNameTheDaxMount() {
    String capabilities = String.join("\n", provider.capabilities());
    System.out.println("capabilities in the guest:\n  " + capabilities.replace("\n", "\n  "));
    assertTrue(capabilities.contains("fsdax (MAP_SYNC): yes"), capabilities);
  }

  /**
   * The cost of persist on fsdax (force() of a MAP_SYNC slice), against the copy itself. Printed
   * only: under TCG these are emulation costs.
   */
  @Test
  void persistTimings() throws IOException {
    Path image = dir.resolve("timing.img");
    long size = 32L << 20;
    try (CacheMedia media = provider.open(image.toString(), MediaOptions.create(size));
        Arena arena = Arena.ofConfined()) {
      timings("fsdax", media, arena);
    }
  }

  /** Prints TIMING lines for write, persist and read on {@code media}. */
  static void timings(String kind, CacheMedia media, Arena arena) throws IOException {
    MemorySegment block = arena.allocate(4096, 4096);
    SplittableRandom random = new SplittableRandom(5);
    byte[] bytes = new byte[4096];
    random.nextBytes(bytes);
    MemorySegment.copy(MemorySegment.ofArray(bytes), 0, block, 0, 4096);
    long pages = media.size() / 4096;
    int rounds = 2000;
    for (int warm = 0; warm < 2; warm++) {
      long[] write = new long[rounds];
      long[] persist = new long[rounds];
      long[] clean = new long[rounds];
      long[] fence = new long[rounds];
      long[] read = new long[rounds];
      for (int i = 0; i < rounds; i++) {
        long offset = random.nextLong(pages) * 4096;
        long t0 = System.nanoTime();
        media.write(offset, block);
        long t1 = System.nanoTime();
        media.persist(offset, 4096);
        long t2 = System.nanoTime();
        media.persist(offset, 4096);
        long t3 = System.nanoTime();
        media.persist(offset, 0);
        long t4 = System.nanoTime();
        media.read(offset, block);
        long t5 = System.nanoTime();
        write[i] = t1 - t0;
        persist[i] = t2 - t1;
        clean[i] = t3 - t2;
        fence[i] = t4 - t3;
        read[i] = t5 - t4;
      }
      if (warm == 1) {
        System.out.println("TIMING " + kind + " write 4 KiB: " + stats(write));
        System.out.println("TIMING " + kind + " persist 4 KiB just written: " + stats(persist));
        System.out.println("TIMING " + kind + " persist 4 KiB clean: " + stats(clean));
        System.out.println("TIMING " + kind + " persist zero length (fence): " + stats(fence));
        System.out.println("TIMING " + kind + " read 4 KiB: " + stats(read));
      }
    }
    long t0 = System.nanoTime();
    media.persist(0, media.size());
    System.out.println("TIMING " + kind + " persist whole media (" + (media.size() >> 20) + " MiB): "
        + (System.nanoTime() - t0) / 1000 + " us");
  }

  private static String stats(long[] nanos) {
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    return "median " + sorted[sorted.length / 2] / 1000.0 + " us, p99 " + sorted[sorted.length * 99 / 100] / 1000.0
        + " us (" + sorted.length + " samples)";
  }
}
