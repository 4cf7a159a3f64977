package io.pcache.media.file;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.MediaProvider;
import io.pcache.api.media.PersistenceDomain;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.module.ModuleDescriptor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** What the file driver does beyond the {@code CacheMedia} contract: refusals, locks, domains. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FileMediaTest {

  private static final long SIZE = 1L << 20;

  private final FileMediaProvider provider = new FileMediaProvider();

  @TempDir Path dir;

  private Path image() {
    return dir.resolve("cache.img");
  }

  private CacheMedia create(Path path) throws IOException {
    return provider.open(path.toString(), MediaOptions.create(SIZE));
  }

  private IOException refused(Path path, MediaOptions options) {
    return assertThrows(
        IOException.class,
        () -> provider.open(path.toString(), options).close(),
        "opening " + path + " with " + options);
  }

  private static void assertMentions(String message, String... parts) {
    for (String part : parts) {
      assertTrue(message.contains(part), "message '" + message + "' must mention '" + part + "'");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Creating, sizing and refusing
  // ---------------------------------------------------------------------------------------------

  @Test
  void createsASparseFileOfTheRequestedSize() throws IOException {
    try (CacheMedia media = create(image())) {
      assertEquals("file:" + image(), media.name());
      assertEquals(SIZE, media.size());
      assertEquals(SIZE, Files.size(image()));
      byte[] bytes = new byte[(int) SIZE];
      media.read(0, MemorySegment.ofArray(bytes));
      assertArrayEquals(new byte[(int) SIZE], bytes, "a new media reads as zeros");
    }
  }

  @Test
  void anEmptyFileIsSizedOnRequestAndRefusedOtherwise() throws IOException {
    Files.createFile(image());
    assertMentions(
        refused(image(), MediaOptions.existing()).getMessage(),
        "cache media file:" + image(),
        "empty",
        "size");
    assertMentions(refused(image(), MediaOptions.inspect()).getMessage(), "empty");
    try (CacheMedia media = create(image())) {
      assertEquals(SIZE, media.size());
    }
    assertEquals(SIZE, Files.size(image()));
  }

  @Test
  void aDifferentSizeIsRefusedNamingBothSizesAndWhatToDo() throws IOException {
    create(image()).close();
    long other = 2 * SIZE;
    String message = refused(image(), MediaOptions.create(other)).getMessage();
    assertMentions(
        message,
        "cache media file:" + image(),
        Long.toString(SIZE),
        Long.toString(other),
        "set the size to " + SIZE,
        "remove " + image());
    assertEquals(SIZE, Files.size(image()), "a refused open must not resize the file");
  }

  @Test
  void aMissingFileIsRefusedWithoutASizeAndNotCreated() {
    String message = refused(image(), MediaOptions.existing()).getMessage();
    assertMentions(message, "cache media file:" + image(), "does not exist", "size");
    message = refused(image(), new MediaOptions(SIZE, true)).getMessage();
    assertMentions(message, "does not exist", "read-only");
    Path deep = dir.resolve("no-such-dir").resolve("cache.img");
    message = refused(deep, MediaOptions.create(SIZE)).getMessage();
    assertMentions(message, "cache media file:" + deep, "directory " + deep.getParent());
    assertFalse(Files.exists(image()), "a refused open must not create the file");
  }

  @Test
  void aDirectoryIsRefused() {
    assertMentions(
        refused(dir, MediaOptions.create(SIZE)).getMessage(),
        "cache media file:" + dir,
        "is a directory",
        dir.resolve("cache.img").toString());
  }

  @Test
  void aDeviceIsRefused() {
    Path devNull = Path.of("/dev/null");
    assumeTrue(Files.exists(devNull), "/dev/null does not exist");
    assertMentions(
        refused(devNull, MediaOptions.existing()).getMessage(),
        "cache media file:/dev/null",
        "not a regular file",
        "dax:");
  }

  @Test
  void filesAndSizesSmallerThanAPageAreRefused() throws IOException {
    Files.write(image(), new byte[100]);
    assertMentions(
        refused(image(), MediaOptions.existing()).getMessage(),
        "cache media file:" + image(),
        "100 bytes",
        "smaller than one page");
    Path fresh = dir.resolve("tiny.img");
    assertMentions(
        refused(fresh, MediaOptions.create(100)).getMessage(), "100 bytes", "one page");
    assertFalse(Files.exists(fresh), "a refused create must leave no file behind");
  }

  @Test
  void aBlankLocationIsRefused() {
    IOException e =
        assertThrows(IOException.class, () -> provider.open(" ", MediaOptions.create(SIZE)));
    assertMentions(e.getMessage(), "no path");
  }

  // ---------------------------------------------------------------------------------------------
  // Locks
  // ---------------------------------------------------------------------------------------------

  @Test
  void aSecondOpenInThisProcessIsRefusedUntilTheFirstCloses() throws IOException {
    CacheMedia first = create(image());
    for (MediaOptions options :
        List.of(MediaOptions.existing(), MediaOptions.inspect(), MediaOptions.create(SIZE))) {
      assertMentions(
          refused(image(), options).getMessage(),
          "cache media file:" + image() + " is in use",
          "(lock held on " + image() + ")");
    }
    first.write(0, MemorySegment.ofArray(new byte[] {42}));
    first.close();
    try (CacheMedia second = provider.open(image().toString(), MediaOptions.existing())) {
      byte[] one = new byte[1];
      second.read(0, MemorySegment.ofArray(one));
      assertEquals(42, one[0]);
    }
  }

  @Test
  void anotherProcessHoldingTheMediaIsRefusedUntilItExits() throws Exception {
    create(image()).close();
    try (ChildProcess child = ChildProcess.hold(image(), false)) {
      assertTrue(child.outcome().startsWith("OPEN"), "the child could not open the media");
      for (MediaOptions options : List.of(MediaOptions.existing(), MediaOptions.inspect())) {
        assertEquals(
            "cache media file:" + image() + " is in use by another pcache process (lock held on "
                + image() + ")",
            refused(image(), options).getMessage());
      }
    }
    provider.open(image().toString(), MediaOptions.existing()).close();
  }

  @Test
  void aRefusedSecondOpenKeepsTheFirstOpensLock() throws Exception {
    // fcntl locks belong to the process: a second open that closed its own descriptor would drop
    // the first open's lock. The child must still be refused after the in-process refusal.
    try (CacheMedia first = create(image())) {
      refused(image(), MediaOptions.existing());
      refused(image(), MediaOptions.inspect());
      try (ChildProcess child = ChildProcess.hold(image(), false)) {
        String outcome = child.outcome();
        assertTrue(
            outcome.startsWith("REFUSED") && outcome.contains("another pcache process"),
            "the child must be refused while this process holds the media, but said: " + outcome);
      }
      assertEquals(SIZE, first.size());
    }
  }

  @Test
  void readOnlyOpensShareTheMediaAcrossProcesses() throws Exception {
    create(image()).close();
    try (ChildProcess child = ChildProcess.hold(image(), true)) {
      assertTrue(child.outcome().startsWith("OPEN"), "the read-only child could not open");
      try (CacheMedia readOnly = provider.open(image().toString(), MediaOptions.inspect())) {
        assertTrue(readOnly.mapping().isReadOnly(), "read-only mapping");
      }
      assertMentions(
          refused(image(), MediaOptions.existing()).getMessage(), "another pcache process");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Persistence domain
  // ---------------------------------------------------------------------------------------------

  @Test
  void domainFollowsTheFileSystemType() {
    for (String type : List.of("tmpfs", "ramfs", "hugetlbfs", "TMPFS")) {
      assertEquals(PersistenceDomain.VOLATILE, FileMediaOpener.domainOf(type), type);
    }
    for (String type : List.of("ext4", "xfs", "btrfs", "overlay", "nfs")) {
      assertEquals(PersistenceDomain.PAGE_CACHE, FileMediaOpener.domainOf(type), type);
    }
  }

  @Test
  void mediaOnTmpfsIsVolatile() throws IOException {
    Path shm = FileMediaOnTmpfsTest.SHM;
    assumeTrue(Files.isDirectory(shm) && Files.getFileStore(shm).type().equals("tmpfs"));
    Path shmDir = Files.createTempDirectory(shm, "pcache-file-test-");
    Path path = shmDir.resolve("cache.img");
    try (CacheMedia media = create(path)) {
      assertEquals(PersistenceDomain.VOLATILE, media.persistenceDomain());
    } finally {
      Files.deleteIfExists(path);
      Files.delete(shmDir);
    }
  }

  @Test
  void mediaOnADiskFileSystemIsPageCache() throws IOException {
    String type = Files.getFileStore(dir).type();
    assumeTrue(!type.equals("tmpfs") && !type.equals("ramfs"), dir + " is on " + type);
    try (CacheMedia media = create(image())) {
      assertEquals(PersistenceDomain.PAGE_CACHE, media.persistenceDomain(), dir + " is " + type);
    }
  }

  /**
   * persist on PAGE_CACHE must write the range to the device. Observed through the device's
   * written-sectors counter ({@code /sys/class/block/<dev>/stat}, field 7), which other writers
   * can only increase: 8 MiB of freshly dirtied pages must add at least 8 MiB. Without the
   * msync, the kernel would keep them dirty for 30 s (dirty_expire_centisecs) or more.
   */
  @Test
  void persistOnPageCacheWritesTheRangeToTheDevice() throws IOException {
    Path diskDir = Files.createDirectories(Path.of("target", "media-tests").toAbsolutePath());
    String device = Path.of(Files.getFileStore(diskDir).name()).getFileName().toString();
    Path stat = Path.of("/sys/class/block", device, "stat");
    assumeTrue(Files.isReadable(stat), "no block device statistics for " + diskDir);
    Path path = Files.createTempDirectory(diskDir, "persist-").resolve("cache.img");
    int dirty = 8 << 20;
    try (CacheMedia media = provider.open(path.toString(), MediaOptions.create(4L * dirty))) {
      assumeTrue(media.persistenceDomain() == PersistenceDomain.PAGE_CACHE);
      byte[] data = new byte[dirty];
      new java.util.SplittableRandom(1).nextBytes(data);
      media.write(dirty, MemorySegment.ofArray(data));
      long before = sectorsWritten(stat);
      media.persist(dirty, dirty);
      long written = (sectorsWritten(stat) - before) * 512;
      assertTrue(
          written >= dirty,
          "persist of " + dirty + " dirty bytes wrote only " + written + " bytes to " + device);
    } finally {
      Files.deleteIfExists(path);
      Files.delete(path.getParent());
    }
  }

  private static long sectorsWritten(Path stat) throws IOException {
    return Long.parseLong(Files.readAllLines(stat).getFirst().trim().split("\\s+")[6]);
  }

  // ---------------------------------------------------------------------------------------------
  // Provider
  // ---------------------------------------------------------------------------------------------

  @Test
  void probeFitsFilesAndCreatableFilesOnly() throws IOException {
    Files.write(image(), new byte[8192]);
    assertEquals(10, provider.probe(image().toString()), "existing regular file");
    Path fresh = dir.resolve("new.img");
    assertEquals(10, provider.probe(fresh.toString()), "creatable file");
    assertFalse(Files.exists(fresh), "probe must not create anything");
    assertEquals(0, provider.probe(dir.resolve("no-dir").resolve("x.img").toString()), "no dir");
    assertEquals(0, provider.probe(dir.toString()), "directory");
    assertEquals(0, provider.probe("/dev/null"), "character device");
    assertEquals(0, provider.probe(""), "empty");
    assertEquals(0, provider.probe("bad\0path"), "invalid path");
    for (String candidate : List.of("/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/loop0")) {
      if (isBlockDevice(Path.of(candidate))) {
        assertEquals(0, provider.probe(candidate), "block device " + candidate);
      }
    }
  }

  private static boolean isBlockDevice(Path path) {
    try {
      int mode = (Integer) Files.getAttribute(path, "unix:mode");
      return (mode & 0170000) == 0060000;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  @Test
  void providerDescribesItself() {
    assertEquals("file", provider.name());
    assertFalse(provider.description().isBlank());
    String capabilities = String.join("\n", provider.capabilities());
    assertMentions(capabilities, "PAGE_CACHE", "VOLATILE", "msync", "tmpfs");
  }

  @Test
  void moduleProvidesTheProviderAndExportsNothing() {
    Module module = FileMediaProvider.class.getModule();
    assumeTrue(module.isNamed(), "tests run on the class path");
    ModuleDescriptor descriptor = module.getDescriptor();
    assertEquals("io.pcache.media.file", descriptor.name());
    assertEquals(
        List.of(FileMediaProvider.class.getName()),
        descriptor.provides().stream()
            .filter(p -> p.service().equals(MediaProvider.class.getName()))
            .findFirst()
            .orElseThrow(() -> new AssertionError("module-info does not provide MediaProvider"))
            .providers());
    assertTrue(descriptor.exports().isEmpty(), "exports " + descriptor.exports());
  }
}
