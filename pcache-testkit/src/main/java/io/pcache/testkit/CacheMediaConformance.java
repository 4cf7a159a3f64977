package io.pcache.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.PersistenceDomain;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

/**
 * The conformance suite of {@link CacheMedia}: every driver's test extends it and inherits every
 * test, as Lucene's directory implementations inherit {@code BaseDirectoryTestCase}.
 *
 * <pre>{@code
 * class FileMediaOnDiskTest extends CacheMediaConformance {
 *   protected CacheMedia create(Path dir, long size) throws IOException {
 *     return new FileMediaProvider().open(dir.resolve("cache.img").toString(), MediaOptions.create(size));
 *   }
 *   protected CacheMedia reopen(Path dir, MediaOptions options) throws IOException {
 *     return new FileMediaProvider().open(dir.resolve("cache.img").toString(), options);
 *   }
 * }
 * }</pre>
 *
 * <h2>What it checks</h2>
 *
 * Each test is named after the rule of the {@link CacheMedia} contract it checks:
 *
 * <ul>
 *   <li>random reads and writes, from heap, native, unaligned and read-only segments, agree with a
 *       {@code byte[]} model; so do accesses across 4 KiB pages, across 16 MiB segments and beyond
 *       2 GiB (on sparse media of {@link #largeMediaSize()} bytes, where only a few pages are
 *       touched);
 *   <li>out-of-range reads, writes and persists, including ones whose end overflows a {@code
 *       long}, throw {@link IndexOutOfBoundsException} naming the media, the offset and the length,
 *       and change nothing; zero-length accesses anywhere in {@code [0, size]} are no-ops;
 *   <li>persisted data survives close and reopen; an existing media's size is never changed;
 *   <li>concurrent writers on disjoint (page-sharing) ranges and concurrent readers see only what
 *       the model says;
 *   <li>after close, {@code read}, {@code write}, {@code persist}, {@code size} and {@code
 *       persistenceDomain} throw {@link IllegalStateException} ({@code mapping} throws or is
 *       empty, {@code name} still works); close is idempotent and releases the media for the next
 *       open; a second open while open is refused;
 *   <li>{@code persistenceDomain()} is reported; {@code mapping()} is empty or a coherent view of
 *       the whole media; read-only media refuse writes with {@link UnsupportedOperationException}.
 * </ul>
 *
 * <h2>Rules for the driver's test</h2>
 *
 * Every test gets an empty directory of its own under {@link #mediaRoot()}; the suite closes every
 * media the hooks returned and deletes the directory afterwards, also when the test fails. The
 * hooks are called from the test thread only. A driver that cannot do something the suite checks
 * turns the check off with the hooks below ({@link #supportsLargeSparseMedia()}), or overrides the
 * test method and says why, so that the exception is visible in its test class.
 *
 * <h2>Reproducing a failure</h2>
 *
 * Randomized tests print their seed ({@code <test>: seed N (reproduce with -Dpcache.test.seed=N)})
 * to the test's output; run again with that property to replay the same operations. Threads the
 * suite starts are named {@code conformance-writer-N} and {@code conformance-reader-N}.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
public abstract class CacheMediaConformance {

  /** A page: 4 KiB, the unit of {@code msync} and of page-cache writeback. */
  public static final long PAGE = 4096;

  /** A dm-pcache segment: 16 MiB, the unit the engine allocates cache space in. */
  public static final long SEGMENT = 16L << 20;

  /** 2 GiB: the first offset an {@code int} cannot hold. */
  public static final long TWO_GIB = 1L << 31;

  private final List<CacheMedia> opened = new ArrayList<>();
  private Path dir;
  private String testName;

  // ---------------------------------------------------------------------------------------------
  // Hooks
  // ---------------------------------------------------------------------------------------------

  /**
   * Creates new media of exactly {@code size} bytes, open for reading and writing.
   *
   * @param dir an empty directory that belongs to the current test only; the media may live in it
   *     (a file) or merely be keyed by it (a device the driver's test prepares)
   * @param size the size asked for: {@link #mediaSize()}, {@link #largeMediaSize()} or a multiple
   *     of {@link #PAGE} between them
   */
  protected abstract CacheMedia create(Path dir, long size) throws IOException;

  /**
   * Opens again the media that {@link #create} made in {@code dir}, with {@code options} passed to
   * the provider unchanged. The suite calls it after closing the media (to check persistence, the
   * read-only mode and the size rule) and while the media is still open (to check that a second
   * open is refused).
   *
   * @param options {@link MediaOptions#existing()}, {@link MediaOptions#inspect()} or {@link
   *     MediaOptions#create(long)} with the existing or a different size
   */
  protected abstract CacheMedia reopen(Path dir, MediaOptions options) throws IOException;

  /**
   * The directory under which each test gets its own directory: {@code java.io.tmpdir} by default.
   * A driver tested on a particular file system (tmpfs, a DAX mount) returns a directory on it.
   */
  protected Path mediaRoot() {
    return Path.of(System.getProperty("java.io.tmpdir"));
  }

  /**
   * The size of the media most tests use: 40 MiB by default, which spans two 16 MiB segment
   * boundaries. Must be a multiple of {@link #PAGE} between 8 MiB and 1 GiB (the suite keeps a
   * {@code byte[]} model of the whole media); the segment-boundary test is skipped when it spans
   * fewer than two segment boundaries.
   */
  protected long mediaSize() {
    return 40L << 20;
  }

  /**
   * Whether {@link #create} can make media of {@link #largeMediaSize()} bytes cheaply: sparse, so
   * that touching a few pages costs a few pages. {@code true} by default; a driver of fixed-size
   * devices returns {@code false} and the beyond-2-GiB test is skipped with a message saying so.
   */
  protected boolean supportsLargeSparseMedia() {
    return true;
  }

  /** The size of the media for the beyond-2-GiB test: 3 GiB by default. */
  protected long largeMediaSize() {
    return 3L << 30;
  }

  /**
   * The persistence domain the media must report, or {@code null} (the default) when any
   * non-null domain is acceptable.
   */
  protected PersistenceDomain expectedPersistenceDomain() {
    return null;
  }

  // ---------------------------------------------------------------------------------------------
  // Life cycle and helpers for subclasses
  // ---------------------------------------------------------------------------------------------

  @BeforeEach
  final void createMediaDirectory(TestInfo info) throws IOException {
    testName =
        getClass().getSimpleName()
            + "."
            + info.getTestMethod().map(Method::getName).orElse(info.getDisplayName());
    dir = Files.createTempDirectory(mediaRoot(), "pcache-conformance-");
  }

  @AfterEach
  final void closeMediaAndDeleteDirectory() throws IOException {
    IOException failure = null;
    for (CacheMedia media : opened) {
      try {
        media.close();
      } catch (IOException | RuntimeException e) {
        if (failure == null) {
          failure = new IOException("closing media after " + testName + " failed", e);
        }
      }
    }
    opened.clear();
    if (dir != null) {
      try (Stream<Path> paths = Files.walk(dir)) {
        for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(path);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** The directory of the current test, as passed to the hooks. */
  protected final Path mediaDirectory() {
    return dir;
  }

  /** {@link #create} in this test's directory; the suite closes the media after the test. */
  protected final CacheMedia newMedia(long size) throws IOException {
    CacheMedia media = create(dir, size);
    assertNotNull(media, "create(" + dir + ", " + size + ") returned null");
    opened.add(media);
    return media;
  }

  /** {@link #reopen} in this test's directory; the suite closes the media after the test. */
  protected final CacheMedia reopenMedia(MediaOptions options) throws IOException {
    CacheMedia media = reopen(dir, options);
    assertNotNull(media, "reopen(" + dir + ", " + options + ") returned null");
    opened.add(media);
    return media;
  }

  /** A seeded random source for the current test; the seed is printed. */
  protected final SplittableRandom random() {
    return Seeds.random(testName);
  }

  // ---------------------------------------------------------------------------------------------
  // Round trips against a model
  // ---------------------------------------------------------------------------------------------

  @Test
  public void reportsNameAndSize() throws IOException {
    CacheMedia media = newMedia(mediaSize());
    assertNotNull(media.name(), "name()");
    assertFalse(media.name().isBlank(), "name() is blank");
    assertEquals(mediaSize(), media.size(), "size() of " + media.name());
  }

  @Test
  public void randomReadsAndWritesMatchModel() throws IOException {
    SplittableRandom random = random();
    CacheMedia media = newMedia(mediaSize());
    byte[] model = readAll(media);
    RandomRanges ranges = new RandomRanges(random, media.size());
    SegmentKind[] kinds = SegmentKind.values();
    for (int op = 0; op < 1500; op++) {
      long offset = ranges.offset();
      int length = ranges.length(offset);
      SegmentKind kind = kinds[random.nextInt(kinds.length)];
      String what = "op " + op + " at offset " + offset + " length " + length + " via " + kind;
      switch (random.nextInt(8)) {
        case 0, 1, 2 -> {
          byte[] data = randomBytes(random, length);
          try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = kind.copyOf(arena, data);
            media.write(offset, random.nextInt(4) == 0 ? src.asReadOnly() : src);
          }
          System.arraycopy(data, 0, model, (int) offset, length);
        }
        case 3 -> media.persist(offset, length);
        default -> assertMatchesModel(media, model, offset, length, kind, what);
      }
    }
    assertArrayEquals(model, readAll(media), "whole media after the random operations");
    media.persist(0, media.size());
    media.close();
    assertArrayEquals(
        model,
        readAll(reopenMedia(MediaOptions.existing())),
        "whole media after persist, close and reopen");
  }

  @Test
  public void accessesAcrossPageBoundariesMatchModel() throws IOException {
    SplittableRandom random = random();
    CacheMedia media = newMedia(mediaSize());
    byte[] model = readAll(media);
    List<long[]> ranges = new ArrayList<>();
    for (long page = 1; page <= 4; page++) {
      long edge = page * PAGE;
      for (long back : new long[] {1, 7, 8, 2048}) {
        for (long length : new long[] {2, 9, PAGE, PAGE + 1, 2 * PAGE + 1}) {
          ranges.add(new long[] {edge - back, length});
        }
      }
    }
    ranges.add(new long[] {media.size() - PAGE - 3, PAGE + 3});
    ranges.add(new long[] {media.size() - 1, 1});
    writeAndVerify(random, media, model, ranges);
  }

  @Test
  public void accessesAcrossSegmentBoundariesMatchModel() throws IOException {
    assumeTrue(
        mediaSize() > 2 * SEGMENT + PAGE,
        "mediaSize() " + mediaSize() + " spans fewer than two segment boundaries");
    SplittableRandom random = random();
    CacheMedia media = newMedia(mediaSize());
    byte[] model = readAll(media);
    List<long[]> ranges = new ArrayList<>();
    for (long edge : new long[] {SEGMENT, 2 * SEGMENT}) {
      ranges.add(new long[] {edge - 1, 2});
      ranges.add(new long[] {edge - 3, 8});
      ranges.add(new long[] {edge - PAGE - 1, 2 * PAGE + 2});
      ranges.add(new long[] {edge - 100, 300});
    }
    ranges.add(new long[] {SEGMENT - (3L << 20), SEGMENT + (4L << 20)}); // both edges at once
    writeAndVerify(random, media, model, ranges);
  }

  @Test
  public void accessesBeyondTwoGiBMatchModel() throws IOException {
    long size = largeMediaSize();
    assumeTrue(
        supportsLargeSparseMedia(),
        getClass().getSimpleName() + " cannot create sparse media of " + size + " bytes");
    assertTrue(size >= TWO_GIB + 2 * SEGMENT, "largeMediaSize() must exceed 2 GiB + 32 MiB");
    SplittableRandom random = random();
    CacheMedia media = newMedia(size);
    assertEquals(size, media.size(), "size() of " + media.name());

    // Far ranges, and their images below 2 GiB, which a driver truncating offsets to 31 or 32
    // bits would hit instead. The low ones are written first and must survive the far ones.
    List<long[]> far =
        List.of(
            new long[] {TWO_GIB - 2048, PAGE}, // across 2^31
            new long[] {TWO_GIB + PAGE - 3, 7},
            new long[] {TWO_GIB + SEGMENT - 100, 300},
            new long[] {size - PAGE - 5, PAGE + 5}); // to the very end
    List<long[]> spots = new ArrayList<>();
    for (long[] range : far) {
      if (range[0] >= TWO_GIB + PAGE) {
        spots.add(new long[] {range[0] - TWO_GIB, range[1]});
      }
    }
    spots.addAll(far);
    List<byte[]> written = new ArrayList<>();
    SegmentKind[] kinds = SegmentKind.values();
    try (Arena arena = Arena.ofConfined()) {
      for (int i = 0; i < spots.size(); i++) {
        long[] spot = spots.get(i);
        byte[] data = randomBytes(random, (int) spot[1]);
        media.write(spot[0], kinds[i % kinds.length].copyOf(arena, data));
        media.persist(spot[0], spot[1]);
        written.add(data);
      }
      assertSpots(media, spots, written, arena, "after writing");
      MemorySegment mapping = media.mapping();
      if (mapping.byteSize() != 0) {
        long[] spot = far.get(2);
        byte[] expected = written.get(spots.indexOf(spot));
        assertArrayEquals(
            expected,
            SegmentKind.bytesOf(mapping.asSlice(spot[0], spot[1])),
            "mapping() of " + media.name() + " at offset " + spot[0]);
      }
      assertOutOfBounds(
          media, "read", size - 2, 4, () -> media.read(size - 2, arena.allocate(4)));
      media.close();
      assertSpots(
          reopenMedia(MediaOptions.existing()), spots, written, arena, "after close and reopen");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Bounds
  // ---------------------------------------------------------------------------------------------

  @Test
  public void outOfRangeReadsThrowAndReadNothing() throws IOException {
    CacheMedia media = newMedia(mediaSize());
    long size = media.size();
    for (long[] range : outOfRangeAccesses(size)) {
      long offset = range[0];
      int length = (int) range[1];
      for (SegmentKind kind : SegmentKind.values()) {
        try (Arena arena = Arena.ofConfined()) {
          byte[] canary = new byte[length];
          Arrays.fill(canary, (byte) 0x77);
          MemorySegment dst = kind.copyOf(arena, canary);
          assertOutOfBounds(media, "read via " + kind, offset, length, () -> media.read(offset, dst));
          assertArrayEquals(
              canary,
              SegmentKind.bytesOf(dst),
              "a refused read at offset " + offset + " length " + length + " changed dst");
        }
      }
    }
  }

  @Test
  public void outOfRangeWritesThrowAndChangeNothing() throws IOException {
    SplittableRandom random = random();
    CacheMedia media = newMedia(mediaSize());
    long size = media.size();
    byte[] model = randomBytes(random, (int) size);
    media.write(0, MemorySegment.ofArray(model));
    for (long[] range : outOfRangeAccesses(size)) {
      long offset = range[0];
      int length = (int) range[1];
      byte[] junk = new byte[length];
      Arrays.fill(junk, (byte) 0x5A);
      for (SegmentKind kind : SegmentKind.values()) {
        try (Arena arena = Arena.ofConfined()) {
          MemorySegment src = kind.copyOf(arena, junk);
          assertOutOfBounds(
              media, "write via " + kind, offset, length, () -> media.write(offset, src));
        }
      }
      String what = "after a refused write at offset " + offset + " length " + length;
      assertMatchesModel(media, model, 0, (int) PAGE, SegmentKind.HEAP, what);
      assertMatchesModel(media, model, size - 2 * PAGE, (int) (2 * PAGE), SegmentKind.HEAP, what);
    }
    assertArrayEquals(model, readAll(media), "whole media after the refused writes");
  }

  @Test
  public void outOfRangePersistsThrow() throws IOException {
    CacheMedia media = newMedia(mediaSize());
    long size = media.size();
    long[][] ranges = {
      {-1, 1},
      {-PAGE, PAGE},
      {0, -1},
      {size - 10, -1},
      {size, 1},
      {size + 1, 0},
      {size - PAGE, 2 * PAGE},
      {0, size + 1},
      {1, Long.MAX_VALUE},
      {Long.MAX_VALUE, 1},
      {Long.MAX_VALUE - 5, 16},
      {Long.MIN_VALUE, 0},
    };
    for (long[] range : ranges) {
      assertOutOfBounds(
          media, "persist", range[0], range[1], () -> media.persist(range[0], range[1]));
    }
  }

  @Test
  public void zeroLengthAccessesAreNoOps() throws IOException {
    SplittableRandom random = random();
    CacheMedia media = newMedia(mediaSize());
    long size = media.size();
    byte[] model = randomBytes(random, (int) size);
    media.write(0, MemorySegment.ofArray(model));
    try (Arena arena = Arena.ofConfined()) {
      List<MemorySegment> empties = new ArrayList<>();
      empties.add(MemorySegment.NULL);
      for (SegmentKind kind : SegmentKind.values()) {
        empties.add(kind.allocate(arena, 0));
      }
      for (long offset : new long[] {0, 1, PAGE, SEGMENT, size - 1, size}) {
        for (MemorySegment empty : empties) {
          media.read(offset, empty);
          media.write(offset, empty);
        }
        media.persist(offset, 0);
      }
    }
    assertArrayEquals(model, readAll(media), "whole media after zero-length accesses");
  }

  // ---------------------------------------------------------------------------------------------
  // Persistence, reopen, size rule
  // ---------------------------------------------------------------------------------------------

  @Test
  public void persistedDataSurvivesCloseAndReopen() throws IOException {
    SplittableRandom random = random();
    CacheMedia media = newMedia(mediaSize());
    byte[] model = readAll(media);
    RandomRanges ranges = new RandomRanges(random, media.size());
    for (int round = 0; round < 3; round++) {
      for (int i = 0; i < 50; i++) {
        long offset = ranges.offset();
        int length = ranges.length(offset);
        byte[] data = randomBytes(random, length);
        media.write(offset, MemorySegment.ofArray(data));
        media.persist(offset, length);
        System.arraycopy(data, 0, model, (int) offset, length);
      }
      media.close();
      media = reopenMedia(MediaOptions.existing());
      assertEquals(mediaSize(), media.size(), "size() of " + media.name() + " after reopen");
      assertArrayEquals(model, readAll(media), "whole media after reopen " + (round + 1));
    }
  }

  @Test
  public void reopenKeepsTheSizeAndRefusesAnotherSize() throws IOException {
    SplittableRandom random = random();
    CacheMedia media = newMedia(mediaSize());
    byte[] data = randomBytes(random, (int) (3 * PAGE));
    media.write(PAGE, MemorySegment.ofArray(data));
    media.persist(PAGE, data.length);
    media.close();

    for (long other : new long[] {mediaSize() + PAGE, mediaSize() - PAGE}) {
      assertThrows(
          IOException.class,
          () -> reopenMedia(MediaOptions.create(other)),
          "reopening media of " + mediaSize() + " bytes asking for " + other + " bytes");
    }
    media = reopenMedia(MediaOptions.create(mediaSize()));
    assertEquals(mediaSize(), media.size(), "size() when reopened with the same size");
    assertArrayEquals(data, read(media, PAGE, data.length), "content after the refused reopens");
  }

  // ---------------------------------------------------------------------------------------------
  // Concurrency
  // ---------------------------------------------------------------------------------------------

  @Test
  public void concurrentWritersOnDisjointRangesAndConcurrentReaders() throws Exception {
    SplittableRandom random = random();
    CacheMedia media = newMedia(mediaSize());
    int writers = 4;
    int readers = 4;
    int chunk = (int) (3 * PAGE + 1); // odd, so that neighbouring writers share pages
    int chunksPerWriter = 48;
    int stable = 4 << 20; // [0, stable) is written once, then only read
    byte[] model = randomBytes(random, (int) media.size());
    media.write(0, MemorySegment.ofArray(model));
    byte[] stableBytes = Arrays.copyOf(model, stable);

    AtomicBoolean writing = new AtomicBoolean(true);
    List<Future<?>> readerResults = new ArrayList<>();
    List<Future<?>> writerResults = new ArrayList<>();
    try (ExecutorService readerThreads =
            Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("conformance-reader-", 0).factory());
        ExecutorService writerThreads =
            Executors.newThreadPerTaskExecutor(
                Thread.ofPlatform().name("conformance-writer-", 0).factory())) {
      for (int r = 0; r < readers; r++) {
        SplittableRandom own = random.split();
        readerResults.add(
            readerThreads.submit(
                () -> readStableRegion(media, stableBytes, own, writing)));
      }
      for (int w = 0; w < writers; w++) {
        int writer = w;
        SplittableRandom own = random.split();
        writerResults.add(
            writerThreads.submit(
                () -> {
                  for (int round = 0; round < 4; round++) {
                    for (int c = writer; c < writers * chunksPerWriter; c += writers) {
                      long offset = stable + (long) c * chunk;
                      byte[] data = randomBytes(own, chunk);
                      media.write(offset, MemorySegment.ofArray(data));
                      assertArrayEquals(
                          data,
                          read(media, offset, chunk),
                          Thread.currentThread().getName() + " reading back offset " + offset);
                      if (own.nextInt(8) == 0) {
                        media.persist(offset, chunk);
                      }
                      System.arraycopy(data, 0, model, (int) offset, chunk);
                    }
                  }
                  return null;
                }));
      }
      try {
        for (Future<?> result : writerResults) {
          result.get(90, TimeUnit.SECONDS);
        }
      } finally {
        writing.set(false);
      }
      for (Future<?> result : readerResults) {
        result.get(90, TimeUnit.SECONDS);
      }
    }
    assertArrayEquals(model, readAll(media), "whole media after the concurrent writers");
    media.persist(0, media.size());
    media.close();
    assertArrayEquals(
        model, readAll(reopenMedia(MediaOptions.existing())), "whole media after reopen");
  }

  private static Void readStableRegion(
      CacheMedia media, byte[] expected, SplittableRandom random, AtomicBoolean writing) {
    RandomRanges ranges = new RandomRanges(random, expected.length);
    SegmentKind[] kinds = SegmentKind.values();
    int maxLength = 64 << 10;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment[] buffers = new MemorySegment[kinds.length];
      for (int k = 0; k < kinds.length; k++) {
        buffers[k] = kinds[k].allocate(arena, maxLength);
      }
      for (int reads = 0; writing.get() || reads < 64; reads++) {
        long offset = ranges.offset();
        int length = Math.min(ranges.length(offset), maxLength);
        MemorySegment dst = buffers[reads % kinds.length].asSlice(0, length);
        media.read(offset, dst);
        int at =
            Arrays.mismatch(
                SegmentKind.bytesOf(dst), 0, length, expected, (int) offset, (int) offset + length);
        if (at >= 0) {
          fail(Thread.currentThread().getName() + " read wrong data from " + media.name()
              + " at offset " + (offset + at) + " (read at offset " + offset + " length "
              + length + ")");
        }
      }
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------------
  // Life cycle
  // ---------------------------------------------------------------------------------------------

  @Test
  public void useAfterCloseThrowsIllegalStateException() throws IOException {
    CacheMedia media = newMedia(mediaSize());
    String name = media.name();
    media.close();
    MemorySegment buffer = MemorySegment.ofArray(new byte[16]);
    assertClosed(name, "read", () -> media.read(0, buffer));
    assertClosed(name, "write", () -> media.write(0, buffer));
    assertClosed(name, "persist", () -> media.persist(0, 16));
    assertClosed(name, "persist (zero length)", () -> media.persist(0, 0));
    assertThrows(IllegalStateException.class, media::size, "size() after close");
    assertThrows(
        IllegalStateException.class, media::persistenceDomain, "persistenceDomain() after close");
    // CacheMedia's default mapping() returns NULL without a check: accept that, not a live view.
    MemorySegment mapping;
    try {
      mapping = media.mapping();
    } catch (IllegalStateException expected) {
      mapping = MemorySegment.NULL;
    }
    assertEquals(0, mapping.byteSize(), "mapping() after close must throw or be empty");
  }

  @Test
  public void closeIsIdempotentAndReleasesTheMedia() throws IOException {
    CacheMedia media = newMedia(mediaSize());
    media.close();
    media.close();
    media.close();
    CacheMedia again = reopenMedia(MediaOptions.existing());
    assertEquals(mediaSize(), again.size(), "size() after reopen");
    again.close();
    again.close();
  }

  @Test
  public void secondOpenWhileOpenIsRefused() throws IOException {
    SplittableRandom random = random();
    CacheMedia media = newMedia(mediaSize());
    byte[] data = randomBytes(random, (int) PAGE);
    media.write(0, MemorySegment.ofArray(data));
    for (MediaOptions options :
        List.of(MediaOptions.existing(), MediaOptions.inspect(), MediaOptions.create(mediaSize()))) {
      IOException refused =
          assertThrows(
              IOException.class,
              () -> reopenMedia(options),
              "opening " + media.name() + " with " + options + " while it is open");
      assertNotNull(refused.getMessage(), "message of the refusal");
    }
    assertArrayEquals(data, read(media, 0, data.length), "the first open after the refusals");
    media.write(PAGE, MemorySegment.ofArray(data));
    media.close();
    assertArrayEquals(data, read(reopenMedia(MediaOptions.existing()), PAGE, data.length),
        "reopen after the first open closed");
  }

  // ---------------------------------------------------------------------------------------------
  // Domain, mapping, read-only
  // ---------------------------------------------------------------------------------------------

  @Test
  public void persistenceDomainIsReported() throws IOException {
    CacheMedia media = newMedia(mediaSize());
    PersistenceDomain domain = media.persistenceDomain();
    assertNotNull(domain, "persistenceDomain() of " + media.name());
    if (expectedPersistenceDomain() != null) {
      assertEquals(expectedPersistenceDomain(), domain, "persistenceDomain() of " + media.name());
    }
  }

  @Test
  public void mappingIsEmptyOrCoherentWithReadAndWrite() throws IOException {
    SplittableRandom random = random();
    CacheMedia media = newMedia(mediaSize());
    MemorySegment mapping = media.mapping();
    assertNotNull(mapping, "mapping() of " + media.name());
    if (mapping.byteSize() == 0) {
      return;
    }
    assertEquals(media.size(), mapping.byteSize(), "mapping().byteSize() of " + media.name());
    long size = media.size();
    long[] offsets = {0, PAGE - 3, SEGMENT - 5, size - 64};
    for (long offset : offsets) {
      byte[] viaMedia = randomBytes(random, 64);
      media.write(offset, MemorySegment.ofArray(viaMedia));
      assertArrayEquals(
          viaMedia,
          SegmentKind.bytesOf(mapping.asSlice(offset, 64)),
          "mapping() after write() at offset " + offset);
      byte[] viaMapping = randomBytes(random, 64);
      MemorySegment.copy(viaMapping, 0, mapping, ValueLayout.JAVA_BYTE, offset, 64);
      assertArrayEquals(viaMapping, read(media, offset, 64), "read() after a store to mapping()");
      media.persist(offset, 64);
    }
    byte[] expected = SegmentKind.bytesOf(mapping);
    media.close();
    assertThrows(
        IllegalStateException.class,
        () -> mapping.get(ValueLayout.JAVA_BYTE, 0),
        "mapping() of " + media.name() + " must be unusable after close");
    assertArrayEquals(
        expected,
        readAll(reopenMedia(MediaOptions.existing())),
        "stores through mapping() must persist like writes");
  }

  @Test
  public void readOnlyMediaRefusesWrites() throws IOException {
    SplittableRandom random = random();
    CacheMedia media = newMedia(mediaSize());
    byte[] model = randomBytes(random, (int) media.size());
    media.write(0, MemorySegment.ofArray(model));
    media.persist(0, media.size());
    media.close();

    CacheMedia readOnly = reopenMedia(MediaOptions.inspect());
    assertEquals(mediaSize(), readOnly.size(), "size() of read-only " + readOnly.name());
    for (long offset : new long[] {0, PAGE - 1, SEGMENT, readOnly.size() - PAGE}) {
      for (SegmentKind kind : SegmentKind.values()) {
        try (Arena arena = Arena.ofConfined()) {
          MemorySegment src = kind.copyOf(arena, new byte[(int) PAGE]);
          assertThrows(
              UnsupportedOperationException.class,
              () -> readOnly.write(offset, src),
              "write to read-only " + readOnly.name() + " at offset " + offset + " via " + kind);
        }
      }
    }
    assertArrayEquals(model, readAll(readOnly), "read-only media after the refused writes");
    MemorySegment mapping = readOnly.mapping();
    if (mapping.byteSize() != 0) {
      assertTrue(mapping.isReadOnly(), "mapping() of read-only " + readOnly.name() + " is writable");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Assertions and helpers
  // ---------------------------------------------------------------------------------------------

  /** Out-of-range {offset, length} pairs for reads and writes (lengths fit an int). */
  private static long[][] outOfRangeAccesses(long size) {
    return new long[][] {
      {-1, 1},
      {-1, 0},
      {-PAGE, 2 * PAGE},
      {Long.MIN_VALUE, 8},
      {size, 1},
      {size + 1, 0},
      {size - 10, 20},
      {size - 1, 2},
      {size + PAGE, PAGE},
      {Long.MAX_VALUE, 1},
      {Long.MAX_VALUE - 5, 16},
    };
  }

  private static void assertOutOfBounds(
      CacheMedia media, String what, long offset, long length, Executable call) {
    IndexOutOfBoundsException e =
        assertThrows(
            IndexOutOfBoundsException.class,
            call,
            what + " at offset " + offset + " length " + length + " on " + media.name()
                + " of " + media.size() + " bytes");
    String message = e.getMessage();
    String context = what + " at offset " + offset + " length " + length + ": message '"
        + message + "' must name ";
    assertNotNull(message, context + "the media, offset and length");
    assertTrue(message.contains(media.name()), context + "the media " + media.name());
    assertTrue(message.contains(Long.toString(offset)), context + "the offset " + offset);
    assertTrue(message.contains(Long.toString(length)), context + "the length " + length);
  }

  private static void assertClosed(String name, String what, Executable call) {
    IllegalStateException e =
        assertThrows(IllegalStateException.class, call, what + " on closed " + name);
    assertNotNull(e.getMessage(), what + " on closed " + name + ": message");
    assertTrue(
        e.getMessage().contains(name),
        what + " on closed " + name + ": message '" + e.getMessage() + "' must name the media");
  }

  private void writeAndVerify(
      SplittableRandom random, CacheMedia media, byte[] model, List<long[]> ranges)
      throws IOException {
    SegmentKind[] kinds = SegmentKind.values();
    for (int i = 0; i < ranges.size(); i++) {
      long offset = ranges.get(i)[0];
      int length = (int) ranges.get(i)[1];
      byte[] data = randomBytes(random, length);
      try (Arena arena = Arena.ofConfined()) {
        media.write(offset, kinds[i % kinds.length].copyOf(arena, data));
      }
      System.arraycopy(data, 0, model, (int) offset, length);
      media.persist(offset, length);
      String what = "range " + i + " at offset " + offset + " length " + length;
      for (SegmentKind kind : kinds) {
        assertMatchesModel(media, model, offset, length, kind, what);
      }
      long around = Math.max(0, offset - PAGE);
      int aroundLength = (int) Math.min(media.size() - around, length + 2 * PAGE);
      assertMatchesModel(media, model, around, aroundLength, SegmentKind.HEAP, "around " + what);
    }
    assertArrayEquals(model, readAll(media), "whole media after the ranges");
  }

  private static void assertMatchesModel(
      CacheMedia media, byte[] model, long offset, int length, SegmentKind kind, String what) {
    byte[] actual;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment dst = kind.allocate(arena, length);
      media.read(offset, dst);
      actual = SegmentKind.bytesOf(dst);
    }
    int at = Arrays.mismatch(actual, 0, length, model, (int) offset, (int) offset + length);
    if (at >= 0) {
      fail(media.name() + ": " + what + ": read via " + kind + " differs from the model at offset "
          + (offset + at) + ": expected " + model[(int) offset + at] + " but was " + actual[at]);
    }
  }

  private static void assertSpots(
      CacheMedia media, List<long[]> spots, List<byte[]> written, Arena arena, String when) {
    SegmentKind[] kinds = SegmentKind.values();
    for (int i = 0; i < spots.size(); i++) {
      long[] spot = spots.get(i);
      MemorySegment dst = kinds[(i + 1) % kinds.length].allocate(arena, (int) spot[1]);
      media.read(spot[0], dst);
      assertArrayEquals(
          written.get(i),
          SegmentKind.bytesOf(dst),
          media.name() + " " + when + ": offset " + spot[0] + " length " + spot[1]);
    }
  }

  private static byte[] readAll(CacheMedia media) {
    if (media.size() > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(media.name() + " is too large for a byte[] model");
    }
    return read(media, 0, (int) media.size());
  }

  private static byte[] read(CacheMedia media, long offset, int length) {
    byte[] bytes = new byte[length];
    media.read(offset, MemorySegment.ofArray(bytes));
    return bytes;
  }

  private static byte[] randomBytes(SplittableRandom random, int length) {
    byte[] bytes = new byte[length];
    Seeds.fill(random, bytes);
    return bytes;
  }
}
