package io.pcache.media.dax;

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

/**
 * What runs on any machine: the refusals and their messages, probe, capabilities and the wiring.
 * Where a DAX mount or device is needed, a fake mount table or sysfs tree stands in, and the
 * kernel's own refusal (statx, MAP_SYNC) is what is checked.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DaxMediaProviderTest {

  private static final long SIZE = 1L << 20;
  private static final Path SHM = Path.of("/dev/shm");

  private final DaxMediaProvider provider = new DaxMediaProvider();

  @TempDir Path dir;

  private final List<Path> diskDirs = new java.util.ArrayList<>();

  /** A directory on the disk file system of the build tree (never tmpfs in a normal build). */
  private Path diskDir() throws IOException {
    Path base = Files.createDirectories(Path.of("target", "dax-tests").toAbsolutePath());
    Path made = Files.createTempDirectory(base, "t-");
    diskDirs.add(made);
    return made;
  }

  @org.junit.jupiter.api.AfterEach
  void deleteDiskDirs() throws IOException {
    for (Path d : diskDirs) {
      try (java.util.stream.Stream<Path> paths = Files.walk(d)) {
        for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  private static boolean onTmpfs(Path p) throws IOException {
    return DaxFileSystems.MEMORY_TYPES.contains(Files.getFileStore(p).type());
  }

  private IOException refused(DaxMediaProvider p, Path path, MediaOptions options) {
    return assertThrows(IOException.class, () -> p.open(path.toString(), options).close(),
        "opening " + path + " with " + options);
  }

  private IOException refused(Path path, MediaOptions options) {
    return refused(provider, path, options);
  }

  private static void assertMentions(String message, String... parts) {
    for (String part : parts) {
      assertTrue(message.contains(part), "message '" + message + "' must mention '" + part + "'");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Refusals
  // ---------------------------------------------------------------------------------------------

  @Test
  void aFileOnTmpfsIsRefusedBeforeAnythingIsCreated() throws IOException {
    assumeTrue(Files.isDirectory(SHM) && Files.getFileStore(SHM).type().equals("tmpfs"), "no tmpfs /dev/shm");
    Path shmDir = Files.createTempDirectory(SHM, "pcache-dax-test-");
    Path image = shmDir.resolve("cache.img");
    try {
      String message = refused(image, MediaOptions.create(SIZE)).getMessage();
      assertEquals("cache media dax:" + image + " is on tmpfs, which has no DAX: MAP_SYNC is not supported"
          + " (EOPNOTSUPP); use file:" + image + " for emulated persistent memory (it survives a crash of"
          + " pcache, not a reboot)", message);
      assertFalse(Files.exists(image), "a refused create must leave no file behind");

      Files.write(image, new byte[8192]);
      for (MediaOptions options : List.of(MediaOptions.existing(), MediaOptions.inspect())) {
        assertMentions(refused(image, options).getMessage(), "is on tmpfs", "EOPNOTSUPP", "file:" + image);
      }
      assertEquals(8192, Files.size(image), "a refused open must not touch the file");
    } finally {
      Files.deleteIfExists(image);
      Files.delete(shmDir);
    }
  }

  @Test
  void aFileOnAPageCacheFileSystemIsRefusedWithTheDeviceAndTheWayOut() throws IOException {
    Path disk = diskDir();
    assumeTrue(!onTmpfs(disk), "the build tree is on tmpfs");
    Path image = disk.resolve("cache.img");
    String message = refused(image, MediaOptions.create(SIZE)).getMessage();
    assertMentions(message, "cache media dax:" + image + " is on ", "MAP_SYNC is not supported (EOPNOTSUPP)",
        "mount -o dax", "file:" + image + " (page-cache media: persist = msync)");
    assertFalse(Files.exists(image), "a refused create must leave no file behind");
    Files.write(image, new byte[8192]);
    assertMentions(refused(image, MediaOptions.existing()).getMessage(), "EOPNOTSUPP", "file:" + image);
    assertEquals(8192, Files.size(image));
  }

  /**
   * With a mount table that claims the build tree is mounted {@code -o dax}, the kernel's own
   * answer must still refuse the file: statx has no STATX_ATTR_DAX (Linux 5.8+), or MAP_SYNC fails
   * with EOPNOTSUPP. The file this open created must be gone again.
   */
  @Test
  void theKernelsAnswerRefusesAFileOnAMountThatOnlyClaimsDax() throws IOException {
    Path disk = diskDir();
    assumeTrue(!onTmpfs(disk), "the build tree is on tmpfs");
    Path real = disk.toRealPath();
    Mounts lying = Mounts.parse("1 0 254:0 / " + real + " rw - ext4 /dev/fake rw,dax=always\n");
    DaxMediaProvider fooled = new DaxMediaProvider(() -> lying, new Sysfs(dir));
    Path image = real.resolve("cache.img");
    assertEquals(DaxMediaProvider.DAX_FIT, fooled.probe(image.toString()), "probe trusts the mount table");
    String message = refused(fooled, image, MediaOptions.create(SIZE)).getMessage();
    assertMentions(message, "cache media dax:" + image + " is not a DAX file", "EOPNOTSUPP", "file:" + image);
    assertFalse(Files.exists(image), "the file this open created must be deleted: " + message);

    Files.write(image, new byte[8192]);
    assertMentions(refused(fooled, image, MediaOptions.existing()).getMessage(), "is not a DAX file", "file:");
    assertEquals(8192, Files.size(image), "a refused open must not change an existing file");
  }

  @Test
  void aDirectoryIsRefusedNamingAFileInIt() {
    assertMentions(refused(dir, MediaOptions.create(SIZE)).getMessage(), "cache media dax:" + dir,
        "is a directory", "dax:" + dir.resolve("cache.img"));
  }

  @Test
  void aCharacterDeviceThatIsNotDevDaxIsRefused() {
    assumeTrue(Files.exists(Path.of("/dev/null")));
    assertMentions(refused(Path.of("/dev/null"), MediaOptions.existing()).getMessage(),
        "cache media dax:/dev/null is a character device but not a device-dax instance", "subsystem mem",
        "-o dax");
  }

  @Test
  void aMissingDevDaxDeviceIsRefusedSayingWhatExists() throws IOException {
    Path missing = Path.of("/dev/dax97.3");
    assumeTrue(!Files.exists(missing));
    assertMentions(refused(missing, MediaOptions.existing()).getMessage(),
        "cache media dax:/dev/dax97.3 does not exist");
    FakeSysfs fake = new FakeSysfs(dir).devDax("252:0", "dax0.0", 1L << 30, 2L << 20);
    DaxMediaProvider withDevice = new DaxMediaProvider(Mounts::current, fake.sysfs());
    assertMentions(refused(withDevice, missing, MediaOptions.existing()).getMessage(),
        "devdax devices here: /dev/dax0.0 (1073741824 bytes, align 2097152)");
    DaxMediaProvider without = new DaxMediaProvider(Mounts::current, new Sysfs(dir.resolve("none")));
    assertMentions(refused(without, missing, MediaOptions.existing()).getMessage(),
        "no devdax device", "ndctl create-namespace -m devdax");
  }

  @Test
  void aBlockDeviceIsRefusedAsNotPersistentMemory() throws IOException {
    Path vda = firstBlockDevice();
    assumeTrue(vda != null, "no block device to try");
    String majMin = Sysfs.majorMinor(((Number) Files.getAttribute(vda, "unix:rdev")).longValue());
    assumeTrue(!Sysfs.LIVE.blockDeviceDax(majMin).orElse(false), vda + " can do DAX");
    assertMentions(refused(vda, MediaOptions.existing()).getMessage(), "cache media dax:" + vda,
        "is a block device without DAX", "file:");
    FakeSysfs fake = new FakeSysfs(dir).disk(majMin, "pmem7", true);
    DaxMediaProvider pmem = new DaxMediaProvider(Mounts::current, fake.sysfs());
    assertMentions(refused(pmem, vda, MediaOptions.existing()).getMessage(),
        "is a block device (pmem7) that can do DAX", "mount -o dax", "-m devdax");
  }

  private static Path firstBlockDevice() {
    for (String candidate : List.of("/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/loop0", "/dev/pmem0")) {
      Path p = Path.of(candidate);
      try {
        if ((((Integer) Files.getAttribute(p, "unix:mode")) & 0170000) == 0060000) {
          return p;
        }
      } catch (IOException | RuntimeException e) {
        // not there
      }
    }
    return null;
  }

  @Test
  void blankAndInvalidLocationsAreRefused() {
    assertMentions(assertThrows(IOException.class, () -> provider.open(" ", MediaOptions.create(SIZE)))
        .getMessage(), "no path", "dax:/mnt/pmem/cache.img", "dax:/dev/dax0.0");
    assertMentions(assertThrows(IOException.class, () -> provider.open("bad\0path", MediaOptions.create(SIZE)))
        .getMessage(), "not a valid path");
  }

  @Test
  void aMissingFileWithoutASizeIsRefusedFirstForThat() {
    Path image = dir.resolve("cache.img");
    assertMentions(refused(image, MediaOptions.existing()).getMessage(), "does not exist", "size");
    assertMentions(refused(dir.resolve("nodir").resolve("c.img"), MediaOptions.create(SIZE)).getMessage(),
        "directory " + dir.resolve("nodir") + " does not exist");
  }

  // ---------------------------------------------------------------------------------------------
  // devdax through a stand-in: /dev/zero described as a device-dax instance by a fake sysfs
  // ---------------------------------------------------------------------------------------------

  /**
   * {@code /dev/zero} maps {@code MAP_SHARED} (shared anonymous memory), so with a fake sysfs that
   * calls it a 4 MiB devdax device the whole devdax path runs on any machine: open, flock, mmap at
   * the alignment, reads, writes, the cache-line write-back of persist, the size rule, the claim,
   * read-only and close. (Its content does not outlive the mapping: that is for the VM.)
   */
  @Test
  void theDevDaxPathRunsOnAStandIn() throws IOException {
    Path zero = Path.of("/dev/zero");
    assumeTrue(Files.exists(zero) && Posix.available() && CacheLines.available());
    String majMin = Sysfs.majorMinor(((Number) Files.getAttribute(zero, "unix:rdev")).longValue());
    long size = 4L << 20;
    DaxMediaProvider p = new DaxMediaProvider(Mounts::current,
        new FakeSysfs(dir).devDax(majMin, "dax9.0", size, 2L << 20).sysfs());
    assertEquals(DaxMediaProvider.DAX_FIT, p.probe(zero.toString()));
    assertMentions(refused(p, zero, MediaOptions.create(size * 2)).getMessage(),
        "is a devdax device of " + size + " bytes (dax9.0)", "set the cache size to " + size);
    try (CacheMedia media = p.open(zero.toString(), MediaOptions.create(size))) {
      assertEquals("dax:/dev/zero", media.name());
      assertEquals(size, media.size());
      assertEquals(PersistenceDomain.DAX, media.persistenceDomain());
      assertEquals(DaxMedia.Kind.DEVDAX, ((DaxMedia) media).kind());
      assertEquals(0, media.mapping().address() % (2L << 20), "mapped at the device's alignment");
      byte[] data = new byte[10_000];
      new java.util.SplittableRandom(6).nextBytes(data);
      media.write(4093, MemorySegment.ofArray(data));
      media.persist(4093, data.length);
      media.persist(size - 1, 1);
      media.persist(0, size);
      media.persist(17, 0);
      byte[] back = new byte[data.length];
      media.read(4093, MemorySegment.ofArray(back));
      assertArrayEquals(data, back);
      assertMentions(refused(p, zero, MediaOptions.existing()).getMessage(),
          "is in use by an earlier open in this process");
    }
    try (CacheMedia again = p.open(zero.toString(), MediaOptions.inspect())) {
      assertTrue(again.mapping().isReadOnly(), "read-only mapping");
      assertThrows(UnsupportedOperationException.class, () -> again.write(0, MemorySegment.ofArray(new byte[1])));
      again.persist(0, 64);
    }
  }

  /** The flock of a devdax open keeps another process out; read-only opens share (stand-in as above). */
  @Test
  void theDevDaxLockKeepsAnotherProcessOut() throws Exception {
    Path zero = Path.of("/dev/zero");
    assumeTrue(Files.exists(zero) && Posix.available() && CacheLines.available());
    String majMin = Sysfs.majorMinor(((Number) Files.getAttribute(zero, "unix:rdev")).longValue());
    new FakeSysfs(dir).devDax(majMin, "dax9.0", 2L << 20, 2L << 20);
    DaxMediaProvider p = new DaxMediaProvider(Mounts::current, new Sysfs(dir));
    try (CacheMedia held = p.open(zero.toString(), MediaOptions.existing());
        ChildProcess child = ChildProcess.hold(zero, false, dir)) {
      String outcome = child.outcome();
      assertEquals("REFUSED cache media dax:/dev/zero is in use by another pcache process (lock held on /dev/zero)",
          outcome);
      assertEquals(2L << 20, held.size());
    }
    try (ChildProcess child = ChildProcess.hold(zero, true, dir)) {
      assertEquals("OPEN DAX", child.outcome());
      try (CacheMedia readOnly = p.open(zero.toString(), MediaOptions.inspect())) {
        assertTrue(readOnly.mapping().isReadOnly());
      }
      assertMentions(refused(p, zero, MediaOptions.existing()).getMessage(), "in use by another pcache process");
    }
    try (ChildProcess child = ChildProcess.hold(zero, false, dir)) {
      assertEquals("OPEN DAX", child.outcome(), "free again once every holder closed");
    }
  }

  @Test
  void aDisabledDevDaxDeviceIsRefusedWithTheDriverToLoad() throws IOException {
    Path zero = Path.of("/dev/zero");
    assumeTrue(Files.exists(zero));
    String majMin = Sysfs.majorMinor(((Number) Files.getAttribute(zero, "unix:rdev")).longValue());
    DaxMediaProvider p = new DaxMediaProvider(Mounts::current,
        new FakeSysfs(dir).devDax(majMin, "dax3.0", 2L << 20, 2L << 20, false).sysfs());
    assertMentions(refused(p, zero, MediaOptions.existing()).getMessage(),
        "cache media dax:/dev/zero (devdax dax3.0) is not enabled", "modprobe device_dax");
    assertMentions(String.join("\n", p.capabilities()), "disabled: modprobe device_dax");
  }

  @Test
  void aDevDaxMappingFailureIsTranslatedAndReleasesTheClaim() throws IOException {
    Path devNull = Path.of("/dev/null");
    assumeTrue(Files.exists(devNull) && Posix.available() && CacheLines.available());
    String majMin = Sysfs.majorMinor(((Number) Files.getAttribute(devNull, "unix:rdev")).longValue());
    DaxMediaProvider p = new DaxMediaProvider(Mounts::current,
        new FakeSysfs(dir).devDax(majMin, "dax8.0", 2L << 20, 2L << 20).sysfs());
    for (int attempt = 0; attempt < 2; attempt++) {
      assertMentions(refused(p, devNull, MediaOptions.existing()).getMessage(),
          "cannot map cache media dax:/dev/null (2097152 bytes of devdax dax8.0, alignment 2097152)", "ENODEV");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Probe, capabilities, wiring
  // ---------------------------------------------------------------------------------------------

  @Test
  void probeFitsDaxLocationsOnly() throws IOException {
    assertEquals(DaxMediaProvider.DAX_FIT, provider.probe("/dev/dax0.0"), "a devdax name, even when missing");
    assertEquals(DaxMediaProvider.DAX_FIT, provider.probe("/dev/dax12.3"));
    assertEquals(0, provider.probe("/dev/daxy"), "not a devdax name");
    assertEquals(0, provider.probe("/dev/null"), "a character device that is not devdax");
    assertEquals(0, provider.probe(dir.toString()), "a directory");
    assertEquals(0, provider.probe(""));
    assertEquals(0, provider.probe(null));
    assertEquals(0, provider.probe("bad\0path"));
    Path disk = diskDir();
    if (!onTmpfs(disk)) {
      Files.write(disk.resolve("x.img"), new byte[4096]);
      assertEquals(0, provider.probe(disk.resolve("x.img").toString()), "a page-cache file");
      assertEquals(0, provider.probe(disk.resolve("new.img").toString()), "a creatable page-cache file");
    }
    if (Files.isDirectory(SHM) && onTmpfs(SHM)) {
      assertEquals(0, provider.probe(SHM.resolve("pcache-never-created.img").toString()), "tmpfs");
    }
    Path real = dir.toRealPath();
    DaxMediaProvider daxHere = new DaxMediaProvider(
        () -> Mounts.parse("1 0 259:0 / " + real + " rw - ext4 /dev/pmem0 rw,dax\n"), new Sysfs(dir));
    assertEquals(DaxMediaProvider.DAX_FIT, daxHere.probe(real.resolve("new.img").toString()));
    assertFalse(Files.exists(real.resolve("new.img")), "probe must not create anything");
    assertEquals(0, daxHere.probe(real.resolve("no-dir").resolve("x.img").toString()), "no directory");
  }

  @Test
  void capabilitiesSayWhichModesThisMachineSupports() throws IOException {
    String empty = String.join("\n", new DaxMediaProvider(() -> Mounts.parse(""), new Sysfs(dir)).capabilities());
    assertMentions(empty, "fsdax (MAP_SYNC): no: no file system is mounted with -o dax", "devdax: no:",
        "persist: cache-line write-back + sfence, no system call");
    FakeSysfs fake = new FakeSysfs(dir).devDax("252:0", "dax0.0", 1L << 30, 2L << 20).disk("259:0", "pmem0", true);
    DaxMediaProvider both = new DaxMediaProvider(() -> Mounts.parse(
        "1 0 259:0 / /mnt/pmem rw - ext4 /dev/pmem0 rw,dax=always\n"), fake.sysfs());
    String yes = String.join("\n", both.capabilities());
    assertMentions(yes, "fsdax (MAP_SYNC): yes, on /mnt/pmem (ext4 on /dev/pmem0)");
    if (CacheLines.available()) {
      assertMentions(yes, "devdax: yes, /dev/dax0.0 (1073741824 bytes, align 2097152)",
          "devdax: " + CacheLines.instruction());
    }
    DaxMediaProvider perFile = new DaxMediaProvider(() -> Mounts.parse(
        "1 0 259:0 / /mnt/pmem rw - xfs /dev/pmem0 rw\n"), fake.sysfs());
    assertMentions(String.join("\n", perFile.capabilities()), "only for files with the DAX flag (dax=inode)");
    System.out.println("capabilities here:\n  " + String.join("\n  ", provider.capabilities()));
  }

  @Test
  void providerDescribesItself() {
    assertEquals("dax", provider.name());
    assertFalse(provider.description().isBlank());
  }

  @Test
  void moduleProvidesTheProviderAndExportsNothing() {
    Module module = DaxMediaProvider.class.getModule();
    assumeTrue(module.isNamed(), "tests run on the class path");
    ModuleDescriptor descriptor = module.getDescriptor();
    assertEquals("io.pcache.media.dax", descriptor.name());
    assertEquals(List.of(DaxMediaProvider.class.getName()), descriptor.provides().stream()
        .filter(p -> p.service().equals(MediaProvider.class.getName()))
        .findFirst()
        .orElseThrow(() -> new AssertionError("module-info does not provide MediaProvider"))
        .providers());
    assertTrue(descriptor.exports().isEmpty(), "exports " + descriptor.exports());
    assertTrue(descriptor.requires().stream().anyMatch(r -> r.name().equals("jdk.nio.mapmode")),
        "requires jdk.nio.mapmode for ExtendedMapMode");
  }
}
