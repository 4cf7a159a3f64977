package io.pcache.backing.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.BlockIOException;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingIdentity;
import io.pcache.api.backing.BackingOptions;
import io.pcache.testkit.BackingDeviceConformance;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The conformance suite on a sparse image file in a temporary directory (under /tmp, disk-backed
 * here), through the page cache; plus what is particular to image files.
 */
class FileBackingTest extends BackingDeviceConformance {

  private final BlockBackingProvider provider = new BlockBackingProvider();

  @Override
  protected BackingDevice open(Path dir, long size) throws IOException {
    return provider.open(dir.resolve("backing.img").toString(), new BackingOptions(size, false, false));
  }

  @Override
  protected BackingDevice openReadOnly(Path dir) throws IOException {
    return provider.open(dir.resolve("backing.img").toString(), new BackingOptions(0, false, true));
  }

  @Override
  protected void resize(Path dir, long bytes) throws IOException {
    try (RandomAccessFile file = new RandomAccessFile(dir.resolve("backing.img").toFile(), "rw")) {
      file.setLength(bytes);
    }
  }

  @Test
  void createsASparseFileOfTheCreateSize() throws IOException {
    try (BackingDevice device = openDevice()) {
      Path image = dir.resolve("backing.img");
      assertEquals(deviceSize(), Files.size(image));
      assertEquals(deviceSize(), device.size());
      assertEquals(512, device.logicalBlockSize());
      assertEquals("block:" + image, device.name());
      assertTrue(allocatedBytes(image) < deviceSize() / 8, "a new image file must be sparse: " + allocatedBytes(image) + " bytes allocated");
      assertEquals(BlockBackingDevice.Kind.REGULAR_FILE, ((BlockBackingDevice) device).kind());
    }
  }

  @Test
  void identityIsTheFilesDeviceAndInodeAndSurvivesAMove() throws IOException {
    Path image = dir.resolve("backing.img");
    BackingIdentity first;
    try (BackingDevice device = openDevice()) {
      first = device.identity();
    }
    assertEquals("file", first.kind());
    assertEquals("dev " + devNum((Long) Files.getAttribute(image, "unix:dev")) + " ino " + Files.getAttribute(image, "unix:ino"),
        first.id());
    assertEquals(image.toRealPath().toString(), first.description());
    assertEquals(deviceSize(), first.size());

    Path moved = Files.createDirectories(dir.resolve("elsewhere")).resolve("renamed.img");
    Files.move(image, moved);
    Files.createSymbolicLink(dir.resolve("link.img"), moved);
    try (BackingDevice device = provider.open(dir.resolve("link.img").toString(), BackingOptions.existing())) {
      BackingIdentity after = device.identity();
      assertTrue(first.sameDevice(after), first + " vs " + after);
      assertEquals(moved.toRealPath().toString(), after.description(), "the description follows the link to the file");
    }

    Path copy = dir.resolve("copy.img");
    Files.copy(moved, copy);
    try (BackingDevice device = provider.open(copy.toString(), BackingOptions.existing())) {
      assertFalse(first.sameDevice(device.identity()), "a copy is another device: " + first + " vs " + device.identity());
    }
  }

  /** Linux's {@code dev_t} encoding as {@code major:minor}. */
  static String devNum(long dev) {
    long major = ((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL);
    long minor = (dev & 0xff) | ((dev >>> 12) & ~0xffL);
    return major + ":" + minor;
  }

  @Test
  void discardAndWriteZeroesDeallocate() throws IOException {
    Path image = dir.resolve("backing.img");
    try (BackingDevice device = openDevice()) {
      byte[] data = new byte[1 << 20];
      Arrays.fill(data, (byte) 7);
      device.write(0, MemorySegment.ofArray(data));
      device.write(1 << 20, MemorySegment.ofArray(data));
      device.flush();
      long before = allocatedBytes(image);
      device.discard(0, 1 << 20);
      device.writeZeroes(1 << 20, 1 << 20);
      device.flush();
      long after = allocatedBytes(image);
      assertTrue(after <= before - (1 << 20), "discard should punch a hole: " + before + " -> " + after + " bytes allocated");
    }
  }

  @Test
  void existingFileIsOpenedAsIsAndRoundedDownToWholeBlocks() throws IOException {
    Path image = dir.resolve("odd.img");
    Files.write(image, new byte[512 * 3 + 100]);
    try (BackingDevice device = provider.open(image.toString(), new BackingOptions(1 << 20, false, false))) {
      assertEquals(512 * 3, device.size(), "the tail beyond the last whole block is not part of the device");
    }
    assertEquals(512 * 3 + 100, Files.size(image), "an existing file is not resized");
  }

  @Test
  void schemeIsKeptInTheName() throws IOException {
    Path image = dir.resolve("named.img");
    try (BackingDevice device = provider.open("file:" + image, new BackingOptions(1 << 20, false, false))) {
      assertEquals("file:" + image, device.name());
    }
    try (BackingDevice device = provider.open("block:" + image, BackingOptions.existing())) {
      assertEquals("block:" + image, device.name());
    }
  }

  @Test
  void refusesWhatIsNotAnImage() throws IOException {
    Path missing = dir.resolve("missing.img");
    NoSuchFileException noFile = assertThrows(NoSuchFileException.class, () -> provider.open(missing.toString(), BackingOptions.existing()));
    assertTrue(noFile.getMessage().contains("block:" + missing) && noFile.getMessage().contains("create size"), noFile.getMessage());
    assertFalse(Files.exists(missing));

    assertThrows(NoSuchFileException.class, () -> provider.open(missing.toString(), new BackingOptions(1 << 20, false, true)));

    IOException odd = assertThrows(IOException.class, () -> provider.open(missing.toString(), new BackingOptions(1000, false, false)));
    assertTrue(odd.getMessage().contains("not a multiple of 512"), odd.getMessage());
    assertFalse(Files.exists(missing));

    IOException directory = assertThrows(IOException.class, () -> provider.open(dir.toString(), BackingOptions.existing()));
    assertTrue(directory.getMessage().contains("a directory") && directory.getMessage().contains(dir.toString()), directory.getMessage());

    IOException charDevice = assertThrows(IOException.class, () -> provider.open("/dev/null", BackingOptions.existing()));
    assertTrue(charDevice.getMessage().contains("a character device"), charDevice.getMessage());

    Path tiny = dir.resolve("tiny.img");
    Files.write(tiny, new byte[100]);
    IOException empty = assertThrows(IOException.class, () -> provider.open(tiny.toString(), BackingOptions.existing()));
    assertTrue(empty.getMessage().contains("less than one 512-byte block") && empty.getMessage().contains(tiny.toString()), empty.getMessage());

    IOException notAPath = assertThrows(IOException.class, () -> provider.open("block:", BackingOptions.existing()));
    assertTrue(notAPath.getMessage().contains("not a path"), notAPath.getMessage());
  }

  @Test
  void readOnlyWritesFailWithEnotsup() throws IOException {
    openDevice().close();
    try (BackingDevice device = openReadOnly(dir)) {
      BlockIOException e = assertThrows(BlockIOException.class, () -> device.write(0, MemorySegment.ofArray(new byte[512])));
      assertEquals(BlockIOException.Errno.ENOTSUP, e.errno());
      assertTrue(e.getMessage().contains("read-only"), e.getMessage());
      // Two read-only opens share the claim; a writer is refused meanwhile.
      try (BackingDevice second = openReadOnly(dir)) {
        assertEquals(device.size(), second.size());
        IOException refused = assertThrows(IOException.class, () -> open(dir, deviceSize()));
        assertTrue(refused.getMessage().contains("in use by another pcache process"), refused.getMessage());
      }
    }
  }

  @Test
  void probeScoresFilesAndDevices() throws IOException {
    Path image = dir.resolve("probe.img");
    Files.write(image, new byte[512]);
    assertEquals(BlockBackingProvider.PROBE_FILE, provider.probe(image.toString()));
    assertEquals(BlockBackingProvider.PROBE_FILE, provider.probe(dir.resolve("not-yet.img").toString()));
    assertEquals(0, provider.probe(dir.resolve("no-such-dir/x.img").toString()));
    assertEquals(0, provider.probe(dir.toString()));
    assertEquals(0, provider.probe("/dev/null"));
    assertEquals(0, provider.probe(""));
    assertEquals(0, provider.probe("bad\0path"));
    assertTrue(Files.exists(image) && !Files.exists(dir.resolve("not-yet.img")), "probe must not change anything");
    assertEquals("block", provider.name());
    assertEquals(List.of("file"), provider.aliases());
    assertFalse(provider.description().isBlank());
  }

  @Test
  void virtualThreadReadsUseThePageCacheDirectlyAndWaitOtherwise() throws Exception {
    Path image = dir.resolve("nowait.img");
    byte[] data = new byte[1 << 20];
    new SplittableRandom(7).nextBytes(data);
    // Written with O_DIRECT: the range is not in the page cache afterwards.
    try (BackingDevice direct = provider.open(image.toString(), new BackingOptions(4 << 20, true, false))) {
      direct.write(0, MemorySegment.ofArray(data));
    }
    try (BackingDevice device = provider.open(image.toString(), BackingOptions.existing())) {
      long[] handOffs = new long[3];
      byte[][] read = new byte[2][];
      Thread reader = Thread.ofVirtual().name("nowait-reader").start(() -> {
        try {
          handOffs[0] = IoThreads.handOffs();
          read[0] = read(device, 0, data.length, Buffer.NATIVE); // not cached: EAGAIN, then the pool
          handOffs[1] = IoThreads.handOffs();
          read[1] = read(device, 0, data.length, Buffer.NATIVE); // cached now
          handOffs[2] = IoThreads.handOffs();
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
      assertTrue(reader.join(Duration.ofSeconds(30)));
      assertArrayEquals(data, read[0], "uncached read from a virtual thread");
      assertArrayEquals(data, read[1], "cached read from a virtual thread");
      Assumptions.assumeTrue(((BlockBackingDevice) device).nowaitReads(), "RWF_NOWAIT reads are not supported in " + dir);
      assertTrue(handOffs[1] > handOffs[0], "an uncached read must wait on a pool thread");
      assertEquals(handOffs[1], handOffs[2], "a cached read is served on the virtual thread, without a hand-off");
    }
  }

  @Test
  void aFileTruncatedUnderTheDeviceReadsAsEio() throws IOException {
    try (BackingDevice device = openDevice()) {
      try (RandomAccessFile raf = new RandomAccessFile(dir.resolve("backing.img").toFile(), "rw")) {
        raf.setLength(4096);
      }
      long offset = 1 << 20;
      BlockIOException e = assertThrows(BlockIOException.class, () -> device.read(offset, MemorySegment.ofArray(new byte[8192])));
      assertEquals(BlockIOException.Errno.EIO, e.errno());
      assertEquals(offset, e.offset());
      assertEquals(8192, e.length());
      assertTrue(e.getMessage().contains(device.name()) && e.getMessage().contains("truncated"), e.getMessage());
      device.read(0, MemorySegment.ofArray(new byte[4096])); // what is left still reads
    }
  }

  @Test
  void linuxErrnosMapToWhatFrontEndsReport() {
    assertEquals(BlockIOException.Errno.EINVAL, BlockBackingDevice.errnoOf(Posix.EINVAL));
    assertEquals(BlockIOException.Errno.ENOSPC, BlockBackingDevice.errnoOf(Posix.ENOSPC));
    assertEquals(BlockIOException.Errno.ENOSPC, BlockBackingDevice.errnoOf(122)); // EDQUOT
    assertEquals(BlockIOException.Errno.EOVERFLOW, BlockBackingDevice.errnoOf(Posix.EOVERFLOW));
    assertEquals(BlockIOException.Errno.ENOTSUP, BlockBackingDevice.errnoOf(Posix.EOPNOTSUPP));
    assertEquals(BlockIOException.Errno.EIO, BlockBackingDevice.errnoOf(Posix.EIO));
    assertEquals(BlockIOException.Errno.EIO, BlockBackingDevice.errnoOf(Posix.EBUSY));
  }

  /** st_blocks * 512, from stat(1). */
  static long allocatedBytes(Path file) throws IOException {
    return 512 * Long.parseLong(LoopDevices.run(List.of("stat", "-c", "%b", file.toString())).strip());
  }
}
