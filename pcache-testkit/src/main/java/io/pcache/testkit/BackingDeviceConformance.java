package io.pcache.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.pcache.api.BlockIOException;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingIdentity;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * The conformance suite every {@link BackingDevice} driver passes: a driver's test extends this
 * class and implements {@link #open(Path, long)}; every test here then runs against that driver.
 *
 * <h2>What is checked</h2>
 *
 * <ul>
 *   <li>{@link BackingDevice#currentSize()} is {@code size()} while nothing resizes the device, and
 *       follows a resize behind its back (rounded down to whole blocks) where {@link #resize} is
 *       overridden, while {@code size()} stays the size at open;
 *   <li>random block-aligned reads and writes round-trip against a {@code byte[]} model, through
 *       heap segments (over {@code byte[]} and {@code long[]}, at odd offsets), native segments
 *       (at odd addresses too: the contract allows any alignment) and read-only views as sources;
 *   <li>misaligned and out-of-range requests throw {@link BlockIOException} with {@link
 *       BlockIOException.Errno#EINVAL}, naming the device, offset and length, and change nothing;
 *   <li>{@code writeZeroes} reads back as zeroes and leaves its neighbours alone; {@code discard}
 *       does not fail, leaves each block either as it was or zeroed, and leaves neighbours alone;
 *   <li>{@code flush}, persistence across close and reopen, idempotent close, operations after
 *       close ({@link BlockIOException.Errno#ESHUTDOWN});
 *   <li>64 virtual threads reading and writing disjoint ranges concurrently, with a flusher;
 *   <li>the exclusive claim: a second open while the first is open is refused with an {@link
 *       IOException} naming the device, and allowed after close;
 *   <li>interrupted caller threads (platform and virtual) neither fail their I/O nor break the
 *       device, and keep their interrupt status;
 *   <li>{@link BackingDevice#identity()}: of the device's size, the same for every open of one
 *       device, different for another device (opened with {@link #open(Path, long)} on a
 *       subdirectory of the test's directory, and released with {@link #cleanUp(Path)} on it).
 * </ul>
 *
 * <p>Randomized tests take their seed from {@link Seeds} and print it; rerun one with {@code
 * -Dpcache.test.seed=N}.
 *
 * <p>Every device the suite opens is closed after each test, then {@link #cleanUp(Path)} runs.
 */
public abstract class BackingDeviceConformance {

  private static final long MIB = 1L << 20;

  /** A fresh directory per test; {@link #open(Path, long)} keeps the device's files in it. */
  protected Path dir;

  private final List<BackingDevice> opened = new ArrayList<>();
  private String testName = "test";

  // ---------------------------------------------------------------------------------------------
  // Hooks

  /**
   * Opens the device that lives in {@code dir} for reading and writing, with an exclusive claim.
   *
   * <p>The first call for a {@code dir} creates the device with {@code size} bytes (or about that
   * many: the device reports its real {@link BackingDevice#size()}). Every later call for the same
   * {@code dir} must open the <em>same</em> underlying device with its content, whether the
   * earlier instance is still open (the suite then expects the open to be refused) or closed (the
   * suite then expects the data back). The suite closes what this returns.
   */
  protected abstract BackingDevice open(Path dir, long size) throws IOException;

  /**
   * Opens the device that lives in {@code dir} (created by an earlier {@link #open(Path, long)})
   * read-only. The default skips the read-only test; override it when the driver supports it.
   */
  protected BackingDevice openReadOnly(Path dir) throws IOException {
    Assumptions.abort(getClass().getSimpleName() + " does not override openReadOnly(Path)");
    throw new AssertionError("unreachable");
  }

  /**
   * Resizes the device that lives in {@code dir} behind the open instance's back, as an operator
   * would ({@code truncate -s} on an image file, {@code losetup -c} after it on a loop device), to
   * {@code bytes} (not necessarily whole blocks). The default skips the test that needs it;
   * override it when the device's size can change while it is open.
   */
  protected void resize(Path dir, long bytes) throws Exception {
    Assumptions.abort(getClass().getSimpleName() + " does not override resize(Path, long)");
  }

  /** The size asked of {@link #open(Path, long)}: 8 MiB unless overridden. */
  protected long deviceSize() {
    return 8 * MIB;
  }

  /**
   * Runs after each test, once every device the suite opened is closed: release what {@link
   * #open(Path, long)} set up outside {@code dir} (a loop device, a mount, a server). Does
   * nothing by default.
   */
  protected void cleanUp(Path dir) throws Exception {}

  // ---------------------------------------------------------------------------------------------
  // Life cycle

  /** Takes a fresh {@link TempDir} (by parameter, so the suite needs no reflective field access). */
  @BeforeEach
  public final void setUpConformance(TestInfo info, @TempDir Path tempDir) {
    dir = tempDir;
    testName = getClass().getSimpleName() + "." + info.getTestMethod().map(m -> m.getName()).orElse(info.getDisplayName());
  }

  @AfterEach
  public final void closeDevicesAndCleanUp() throws Exception {
    Exception failure = null;
    for (BackingDevice device : opened) {
      try {
        device.close();
      } catch (IOException | RuntimeException e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    opened.clear();
    try {
      cleanUp(dir);
    } catch (Exception e) {
      if (failure == null) {
        failure = e;
      } else {
        failure.addSuppressed(e);
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** Opens the device of this test's {@link #dir} and closes it after the test. */
  protected final BackingDevice openDevice() throws IOException {
    BackingDevice device = open(dir, deviceSize());
    assertNotNull(device, "open(Path, long) returned null");
    opened.add(device);
    return device;
  }

  private SplittableRandom random() {
    return Seeds.random(testName);
  }

  // ---------------------------------------------------------------------------------------------
  // Tests: geometry and data

  @Test
  public void geometryIsConsistent() throws IOException {
    BackingDevice device = openDevice();
    int block = device.logicalBlockSize();
    assertTrue(block >= 512 && Integer.bitCount(block) == 1, "logicalBlockSize must be a power of two >= 512: " + block);
    assertTrue(device.size() > 0, "size must be positive: " + device.size());
    assertEquals(0, device.size() % block, "size " + device.size() + " is not a multiple of the logical block size " + block);
    assertFalse(device.name() == null || device.name().isBlank(), "name() must name the device");
  }

  // ---------------------------------------------------------------------------------------------
  // Tests: identity

  @Test
  public void identityIsOfTheDevice() throws IOException {
    BackingDevice device = openDevice();
    BackingIdentity identity = device.identity();
    assertNotNull(identity, "identity() of " + device.name() + " returned null");
    assertEquals(device.size(), identity.size(), "the size in the identity of " + device.name() + " (" + identity + ")");
    assertTrue(identity.sameDevice(device.identity()), "identity() of " + device.name() + " changed between two calls");
  }

  @Test
  public void identityIsStableAcrossCloseAndReopen() throws IOException {
    BackingDevice device = openDevice();
    BackingIdentity first = device.identity();
    device.close();
    BackingDevice again = openDevice();
    BackingIdentity second = again.identity();
    assertTrue(first.sameDevice(second), "one device, two identities: " + first + " before close, " + second + " after reopen");
  }

  @Test
  public void otherDevicesHaveOtherIdentities() throws Exception {
    BackingIdentity first = openDevice().identity();
    Path otherDir = Files.createDirectories(dir.resolve("other-device"));
    try {
      BackingIdentity other;
      try (BackingDevice device = open(otherDir, deviceSize())) {
        other = device.identity();
      }
      assertFalse(first.sameDevice(other), "two devices, one identity: " + first + " and " + other);
    } finally {
      cleanUp(otherDir);
    }
  }

  @Test
  public void randomReadsAndWritesRoundTrip() throws IOException {
    BackingDevice device = openDevice();
    SplittableRandom random = random();
    byte[] model = readAll(device);
    for (int op = 0; op < 300; op++) {
      long offset = randomOffset(random, device);
      int length = randomLength(random, device, offset, 256);
      Buffer kind = Buffer.values()[random.nextInt(Buffer.values().length)];
      if (random.nextInt(10) < 6) {
        byte[] data = new byte[length];
        Seeds.fill(random, data);
        write(device, offset, data, kind, random.nextBoolean());
        System.arraycopy(data, 0, model, (int) offset, length);
      } else {
        byte[] actual = read(device, offset, length, kind);
        assertRange(model, offset, actual, "read of " + length + " bytes at " + offset + " through a " + kind + " segment");
      }
    }
    assertArrayEquals(model, readAll(device), "whole device after random writes");
  }

  @Test
  public void everyKindOfSegmentRoundTrips() throws IOException {
    BackingDevice device = openDevice();
    SplittableRandom random = random();
    int block = device.logicalBlockSize();
    for (Buffer writeKind : Buffer.values()) {
      for (Buffer readKind : Buffer.values()) {
        for (boolean readOnlyView : new boolean[] {false, true}) {
          long offset = randomOffset(random, device);
          int length = (int) Math.min(device.size() - offset, (1 + random.nextInt(16)) * (long) block);
          byte[] data = new byte[length];
          Seeds.fill(random, data);
          write(device, offset, data, writeKind, readOnlyView);
          assertArrayEquals(data, read(device, offset, length, readKind),
              "written through " + (readOnlyView ? "a read-only " : "a ") + writeKind + " segment, read through " + readKind + " at " + offset);
        }
      }
    }
  }

  @Test
  public void largeTransfersRoundTrip() throws IOException {
    BackingDevice device = openDevice();
    SplittableRandom random = random();
    int block = device.logicalBlockSize();
    int length = (int) Math.min(device.size() - block, 3 * MIB + block);
    byte[] data = new byte[length];
    Seeds.fill(random, data);
    write(device, block, data, Buffer.HEAP);
    assertArrayEquals(data, read(device, block, length, Buffer.NATIVE_ODD), "3 MiB written from the heap, read at an odd address");
    Seeds.fill(random, data);
    write(device, block, data, Buffer.NATIVE_ODD);
    assertArrayEquals(data, read(device, block, length, Buffer.HEAP), "3 MiB written from an odd address, read into the heap");
  }

  @Test
  public void emptyRequestsSucceedAndChangeNothing() throws IOException {
    BackingDevice device = openDevice();
    byte[] before = readAll(device);
    for (long offset : new long[] {0, device.logicalBlockSize(), device.size()}) {
      device.read(offset, MemorySegment.ofArray(new byte[0]));
      device.write(offset, MemorySegment.ofArray(new byte[0]));
      device.discard(offset, 0);
      device.writeZeroes(offset, 0);
    }
    assertArrayEquals(before, readAll(device));
  }

  @Test
  public void currentSizeIsTheSizeWhileNothingResizesTheDevice() throws IOException {
    BackingDevice device = openDevice();
    assertEquals(device.size(), device.currentSize(), "currentSize() of a device nobody resized");
    fillRandom(device, random());
    device.flush();
    assertEquals(device.size(), device.currentSize(), "currentSize() after writes within the device");
  }

  @Test
  public void currentSizeFollowsAResizeUnderTheOpenDevice() throws Exception {
    BackingDevice device = openDevice();
    long size = device.size();
    int block = device.logicalBlockSize();
    long half = size / 2 / block * block;
    resize(dir, half + block / 2);
    assertEquals(half, device.currentSize(),
        "currentSize() after a resize to " + (half + block / 2) + " bytes (rounded down to whole " + block + "-byte blocks)");
    assertEquals(size, device.size(), "size() is the size at open, whatever happened since");
    resize(dir, size);
    assertEquals(size, device.currentSize(), "currentSize() after the size was restored");
  }

  // ---------------------------------------------------------------------------------------------
  // Tests: rejected requests

  @Test
  public void misalignedRequestsAreRejectedAndChangeNothing() throws IOException {
    BackingDevice device = openDevice();
    byte[] model = fillRandom(device, random());
    int block = device.logicalBlockSize();
    long[][] cases = {
      {1, block}, {block + 1, block}, {block / 2, block}, {0, 1}, {0, block + 1}, {block, block - 1}, {device.size() - block, block + 3},
    };
    for (long[] c : cases) {
      assertRejected(device, c[0], c[1], model);
    }
  }

  @Test
  public void outOfRangeRequestsAreRejectedAndChangeNothing() throws IOException {
    BackingDevice device = openDevice();
    byte[] model = fillRandom(device, random());
    int block = device.logicalBlockSize();
    long size = device.size();
    long[][] cases = {
      {size, block}, {size - block, 2L * block}, {-block, block}, {-block, 2L * block}, {0, size + block},
      {Long.MAX_VALUE / block * block, block}, {size + 1024L * block, block},
    };
    for (long[] c : cases) {
      assertRejected(device, c[0], c[1], model);
    }
    for (long length : new long[] {-block, Long.MIN_VALUE / block * block}) {
      assertRejectedRange(device, "discard", 0, length, () -> device.discard(0, length), model);
      assertRejectedRange(device, "writeZeroes", 0, length, () -> device.writeZeroes(0, length), model);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Tests: writeZeroes, discard, flush

  @Test
  public void writeZeroesReadsBackZeroesAndSparesNeighbours() throws IOException {
    BackingDevice device = openDevice();
    SplittableRandom random = random();
    byte[] model = fillRandom(device, random);
    int block = device.logicalBlockSize();
    long size = device.size();
    List<long[]> ranges = new ArrayList<>(List.of(
        new long[] {block, block},
        new long[] {0, block},
        new long[] {size - block, block},
        new long[] {3L * block, MIB + block},
        new long[] {size / 2 + block, size / 2 - 2L * block}));
    for (int i = 0; i < 20; i++) {
      long offset = randomOffset(random, device);
      ranges.add(new long[] {offset, randomLength(random, device, offset, 512)});
    }
    for (long[] r : ranges) {
      device.writeZeroes(r[0], r[1]);
      Arrays.fill(model, (int) r[0], (int) (r[0] + r[1]), (byte) 0);
      assertArrayEquals(model, readAll(device), "after writeZeroes(" + r[0] + ", " + r[1] + ")");
      // Refill, so the next range starts from non-zero data again.
      byte[] data = new byte[(int) r[1]];
      Seeds.fill(random, data);
      write(device, r[0], data, Buffer.NATIVE);
      System.arraycopy(data, 0, model, (int) r[0], data.length);
    }
    device.writeZeroes(0, size);
    assertArrayEquals(new byte[(int) size], readAll(device), "after writeZeroes of the whole device");
  }

  @Test
  public void discardSucceedsAndSparesNeighbours() throws IOException {
    BackingDevice device = openDevice();
    SplittableRandom random = random();
    byte[] model = fillRandom(device, random);
    int block = device.logicalBlockSize();
    long size = device.size();
    List<long[]> ranges = new ArrayList<>(List.of(
        new long[] {block, block}, new long[] {size - block, block}, new long[] {5L * block, MIB + 3L * block}));
    for (int i = 0; i < 10; i++) {
      long offset = randomOffset(random, device);
      ranges.add(new long[] {offset, randomLength(random, device, offset, 512)});
    }
    for (long[] r : ranges) {
      device.discard(r[0], r[1]);
      byte[] actual = readAll(device);
      for (long b = 0; b < size; b += block) {
        int from = (int) b;
        int to = from + block;
        boolean inside = b >= r[0] && b < r[0] + r[1];
        boolean unchanged = Arrays.equals(model, from, to, actual, from, to);
        if (!inside) {
          assertTrue(unchanged, "discard(" + r[0] + ", " + r[1] + ") changed the block at " + b + " outside its range");
        } else if (!unchanged) {
          assertTrue(Arrays.equals(new byte[block], 0, block, actual, from, to),
              "discard(" + r[0] + ", " + r[1] + ") left the block at " + b + " neither as it was nor zeroed");
        }
      }
      System.arraycopy(actual, 0, model, 0, actual.length);
    }
    byte[] data = new byte[(int) (2L * block)];
    Seeds.fill(random, data);
    write(device, block, data, Buffer.HEAP);
    assertArrayEquals(data, read(device, block, data.length, Buffer.HEAP), "a write after discard");
  }

  @Test
  public void flushMakesNoDifferenceToContent() throws IOException {
    BackingDevice device = openDevice();
    SplittableRandom random = random();
    device.flush();
    byte[] model = fillRandom(device, random);
    device.flush();
    device.flush();
    assertArrayEquals(model, readAll(device));
  }

  // ---------------------------------------------------------------------------------------------
  // Tests: life cycle

  @Test
  public void contentPersistsAcrossCloseAndReopen() throws IOException {
    BackingDevice device = openDevice();
    SplittableRandom random = random();
    String name = device.name();
    long size = device.size();
    int block = device.logicalBlockSize();
    byte[] model = fillRandom(device, random);
    device.writeZeroes(block, 4L * block);
    Arrays.fill(model, block, 5 * block, (byte) 0);
    device.flush();
    device.close();

    BackingDevice again = openDevice();
    assertEquals(name, again.name(), "name after reopen");
    assertEquals(size, again.size(), "size after reopen");
    assertEquals(block, again.logicalBlockSize(), "logical block size after reopen");
    assertArrayEquals(model, readAll(again), "content after close and reopen");
  }

  @Test
  public void secondOpenIsRefusedWhileTheFirstIsOpen() throws IOException {
    BackingDevice first = openDevice();
    IOException refused = assertThrows(IOException.class, this::openDevice, "a second open of " + first.name() + " while it is open");
    assertTrue(refused.getMessage() != null && refused.getMessage().contains(first.name()),
        "the refusal must name the device " + first.name() + ": " + refused.getMessage());
    first.close();
    BackingDevice second = openDevice();
    byte[] data = new byte[second.logicalBlockSize()];
    Seeds.fill(random(), data);
    write(second, 0, data, Buffer.HEAP);
    assertArrayEquals(data, read(second, 0, data.length, Buffer.HEAP));
  }

  @Test
  public void closeIsIdempotentAndLaterCallsFail() throws IOException {
    BackingDevice device = openDevice();
    int block = device.logicalBlockSize();
    device.close();
    device.close();
    for (Op op : List.<Op>of(
        () -> device.read(0, MemorySegment.ofArray(new byte[block])),
        () -> device.write(0, MemorySegment.ofArray(new byte[block])),
        device::flush,
        () -> device.discard(0, block),
        () -> device.writeZeroes(0, block))) {
      BlockIOException e = assertThrows(BlockIOException.class, op::run, "an operation on a closed device");
      assertEquals(BlockIOException.Errno.ESHUTDOWN, e.errno(), "errno of an operation on a closed device: " + e.getMessage());
    }
  }

  @Test
  public void readOnlyDeviceRefusesChanges() throws IOException {
    BackingDevice writable = openDevice();
    byte[] model = fillRandom(writable, random());
    writable.flush();
    writable.close();
    BackingDevice readOnly = openReadOnly(dir);
    assertNotNull(readOnly, "openReadOnly(Path) returned null");
    opened.add(readOnly);
    assertArrayEquals(model, readAll(readOnly), "content through the read-only device");
    int block = readOnly.logicalBlockSize();
    assertThrows(BlockIOException.class, () -> readOnly.write(0, MemorySegment.ofArray(new byte[block])));
    assertThrows(BlockIOException.class, () -> readOnly.writeZeroes(0, block));
    assertThrows(BlockIOException.class, () -> readOnly.discard(0, block));
    assertArrayEquals(model, readAll(readOnly), "content after refused changes");
  }

  // ---------------------------------------------------------------------------------------------
  // Tests: threads

  @Test
  public void concurrentWritersAndReadersOnDisjointRanges() throws Exception {
    BackingDevice device = openDevice();
    SplittableRandom random = random();
    int threads = 64;
    int block = device.logicalBlockSize();
    long slice = device.size() / threads / block * block;
    Assumptions.assumeTrue(slice > 0, "device too small for " + threads + " slices");
    byte[] model = readAll(device);
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    AtomicBoolean done = new AtomicBoolean();
    Thread flusher = Thread.ofVirtual().name("conformance-flusher").start(() -> {
      try {
        while (!done.get()) {
          device.flush();
          Thread.sleep(2);
        }
      } catch (Throwable t) {
        failures.add(t);
      }
    });
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      long base = t * slice;
      SplittableRandom own = random.split();
      workers.add(Thread.ofVirtual().name("conformance-io-" + t).start(() -> {
        try {
          for (int round = 0; round < 12; round++) {
            long offset = base + own.nextLong(slice / block) * block;
            int length = (int) (block * (1 + own.nextLong((base + slice - offset) / block)));
            byte[] data = new byte[length];
            Seeds.fill(own, data);
            Buffer kind = Buffer.values()[own.nextInt(Buffer.values().length)];
            write(device, offset, data, kind);
            System.arraycopy(data, 0, model, (int) offset, length);
            byte[] actual = read(device, base, (int) slice, Buffer.values()[own.nextInt(Buffer.values().length)]);
            assertRange(model, base, actual, Thread.currentThread().getName() + " round " + round);
          }
        } catch (Throwable failure) {
          failures.add(failure);
        }
      }));
    }
    for (Thread worker : workers) {
      assertTrue(worker.join(Duration.ofSeconds(60)), worker.getName() + " did not finish in 60 s");
    }
    done.set(true);
    assertTrue(flusher.join(Duration.ofSeconds(60)), "the flusher did not finish in 60 s");
    rethrowFirst(failures);
    assertArrayEquals(model, readAll(device), "whole device after the concurrent writers");
  }

  @Test
  public void interruptedCallersDoNotBreakTheDevice() throws Exception {
    BackingDevice device = openDevice();
    SplittableRandom random = random();
    int block = device.logicalBlockSize();
    for (Thread.Builder builder : List.of(Thread.ofPlatform().name("conformance-interrupted-platform"), Thread.ofVirtual().name("conformance-interrupted-virtual"))) {
      byte[] data = new byte[16 * block];
      Seeds.fill(random, data);
      AtomicReference<Throwable> failure = new AtomicReference<>();
      AtomicBoolean keptInterrupt = new AtomicBoolean();
      Thread thread = builder.start(() -> {
        Thread.currentThread().interrupt();
        try {
          write(device, block, data, Buffer.HEAP);
          assertArrayEquals(data, read(device, block, data.length, Buffer.NATIVE), "read-back from the interrupted thread");
          device.flush();
          device.writeZeroes(0, block);
          keptInterrupt.set(Thread.currentThread().isInterrupted());
        } catch (Throwable t) {
          failure.set(t);
        }
      });
      assertTrue(thread.join(Duration.ofSeconds(30)), thread.getName() + " did not finish");
      if (failure.get() != null) {
        throw new AssertionError("I/O from an interrupted " + thread.getName() + " failed", failure.get());
      }
      assertTrue(keptInterrupt.get(), "the device cleared the interrupt status of " + thread.getName());
      assertArrayEquals(data, read(device, block, data.length, Buffer.HEAP), "data written by the interrupted thread, read by another");
      byte[] more = new byte[4 * block];
      Seeds.fill(random, more);
      write(device, 0, more, Buffer.NATIVE_ODD);
      assertArrayEquals(more, read(device, 0, more.length, Buffer.HEAP_ODD), "the device after " + thread.getName());
    }
  }

  @Test
  public void interruptsDuringIoDoNotBreakTheDevice() throws Exception {
    BackingDevice device = openDevice();
    SplittableRandom random = random();
    int block = device.logicalBlockSize();
    long size = device.size();
    byte[] model = readAll(device);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    SplittableRandom own = random.split();
    Thread worker = Thread.ofVirtual().name("conformance-interrupt-target").start(() -> {
      try {
        for (int i = 0; i < 200; i++) {
          long offset = own.nextLong(size / block) * block;
          int length = (int) (block * (1 + own.nextLong(Math.min(64, (size - offset) / block))));
          byte[] data = new byte[length];
          Seeds.fill(own, data);
          write(device, offset, data, Buffer.HEAP);
          System.arraycopy(data, 0, model, (int) offset, length);
          assertRange(model, offset, read(device, offset, length, Buffer.NATIVE), "read " + i + " under interrupts");
        }
      } catch (Throwable t) {
        failure.set(t);
      }
    });
    while (worker.isAlive()) {
      worker.interrupt();
      Thread.sleep(0, 50_000);
    }
    worker.join();
    if (failure.get() != null) {
      throw new AssertionError("I/O from a repeatedly interrupted thread failed", failure.get());
    }
    assertArrayEquals(model, readAll(device), "whole device after I/O under interrupts");
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /** The kinds of segments a caller may pass: the contract allows heap and native, any alignment. */
  protected enum Buffer {
    HEAP,
    /** A heap segment that starts one byte into its array. */
    HEAP_ODD,
    /** A heap segment over a {@code long[]}, starting 3 bytes in. */
    HEAP_LONGS_ODD,
    NATIVE,
    /** A native segment at an odd address. */
    NATIVE_ODD
  }

  @FunctionalInterface
  private interface Op {
    void run() throws IOException;
  }

  /** Writes {@code data} at {@code offset} through a segment of the given kind. */
  protected static void write(BackingDevice device, long offset, byte[] data, Buffer kind) throws BlockIOException {
    write(device, offset, data, kind, false);
  }

  /** Writes {@code data} at {@code offset} through a segment of the given kind, or a read-only view of it. */
  protected static void write(BackingDevice device, long offset, byte[] data, Buffer kind, boolean readOnlyView) throws BlockIOException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment src = segment(arena, kind, data.length);
      MemorySegment.copy(data, 0, src, ValueLayout.JAVA_BYTE, 0, data.length);
      device.write(offset, readOnlyView ? src.asReadOnly() : src);
    }
  }

  /** Reads {@code length} bytes at {@code offset} through a segment of the given kind. */
  protected static byte[] read(BackingDevice device, long offset, int length, Buffer kind) throws BlockIOException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment dst = segment(arena, kind, length);
      dst.fill((byte) 0x5A); // so that a read that does nothing cannot pass for zeroes
      device.read(offset, dst);
      return dst.toArray(ValueLayout.JAVA_BYTE);
    }
  }

  private static MemorySegment segment(Arena arena, Buffer kind, int length) {
    return switch (kind) {
      case HEAP -> MemorySegment.ofArray(new byte[length]);
      case HEAP_ODD -> MemorySegment.ofArray(new byte[length + 1]).asSlice(1, length);
      case HEAP_LONGS_ODD -> MemorySegment.ofArray(new long[length / 8 + 2]).asSlice(3, length);
      case NATIVE -> arena.allocate(Math.max(1, length), 4096).asSlice(0, length);
      case NATIVE_ODD -> arena.allocate(length + 1L, 4096).asSlice(1, length);
    };
  }

  /** Reads the whole device (it must fit in an array). */
  protected static byte[] readAll(BackingDevice device) throws BlockIOException {
    assertTrue(device.size() <= Integer.MAX_VALUE - 8, "device too large for the suite: " + device.size());
    return read(device, 0, (int) device.size(), Buffer.NATIVE);
  }

  private static byte[] fillRandom(BackingDevice device, SplittableRandom random) throws BlockIOException {
    byte[] model = new byte[(int) device.size()];
    Seeds.fill(random, model);
    write(device, 0, model, Buffer.HEAP);
    return model;
  }

  private static long randomOffset(SplittableRandom random, BackingDevice device) {
    int block = device.logicalBlockSize();
    return random.nextLong(device.size() / block) * block;
  }

  /** A block-aligned length that fits after {@code offset}, mostly small, sometimes up to {@code maxBlocks} blocks. */
  private static int randomLength(SplittableRandom random, BackingDevice device, long offset, int maxBlocks) {
    int block = device.logicalBlockSize();
    long room = (device.size() - offset) / block;
    int bound = switch (random.nextInt(4)) {
      case 0, 1 -> 8;
      case 2 -> 64;
      default -> maxBlocks;
    };
    return (int) (block * (1 + random.nextLong(Math.min(room, bound))));
  }

  private static void assertRange(byte[] model, long offset, byte[] actual, String what) {
    int mismatch = Arrays.mismatch(model, (int) offset, (int) offset + actual.length, actual, 0, actual.length);
    if (mismatch >= 0) {
      fail(what + ": first difference at device offset " + (offset + mismatch)
          + " (expected " + model[(int) offset + mismatch] + ", read " + actual[mismatch] + ")");
    }
  }

  private void assertRejected(BackingDevice device, long offset, long length, byte[] model) throws BlockIOException {
    int segmentLength = (int) Math.clamp(length, 0, 16L * device.logicalBlockSize());
    if (segmentLength == length) {
      assertRejectedRange(device, "read", offset, length, () -> device.read(offset, MemorySegment.ofArray(new byte[segmentLength])), model);
      byte[] junk = new byte[segmentLength];
      Arrays.fill(junk, (byte) 0xA5);
      assertRejectedRange(device, "write", offset, length, () -> device.write(offset, MemorySegment.ofArray(junk)), model);
    }
    assertRejectedRange(device, "discard", offset, length, () -> device.discard(offset, length), model);
    assertRejectedRange(device, "writeZeroes", offset, length, () -> device.writeZeroes(offset, length), model);
  }

  /** Asserts that {@code op}, a request for {@code [offset, offset + length)}, is refused with EINVAL and changes nothing. */
  private static void assertRejectedRange(BackingDevice device, String what, long off, long len, Op op, byte[] model) throws BlockIOException {
    String request = what + "(offset " + off + ", length " + len + ")";
    BlockIOException e = assertThrows(BlockIOException.class, op::run, request + " must be refused");
    assertEquals(BlockIOException.Errno.EINVAL, e.errno(), request + ": " + e.getMessage());
    String message = String.valueOf(e.getMessage());
    assertTrue(message.contains(device.name()), request + ": the message must name the device " + device.name() + ": " + message);
    assertTrue(message.contains(Long.toString(off)), request + ": the message must name the offset: " + message);
    assertTrue(message.contains(Long.toString(len)), request + ": the message must name the length: " + message);
    assertArrayEquals(model, readAll(device), request + " changed the device");
  }

  private static void rethrowFirst(ConcurrentLinkedQueue<Throwable> failures) {
    Throwable first = failures.poll();
    if (first != null) {
      failures.forEach(first::addSuppressed);
      Assertions.fail(first.getMessage(), first);
    }
  }
}
