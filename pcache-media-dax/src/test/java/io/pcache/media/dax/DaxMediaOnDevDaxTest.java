package io.pcache.media.dax;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.PersistenceDomain;
import io.pcache.testkit.CacheMediaConformance;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The conformance suite on a devdax device, which it overwrites: runs only where one is given with
 * {@code -Dpcache.test.devdax=/dev/daxX.Y} or {@code PCACHE_TEST_DEVDAX} (the VM harness's {@code
 * --nvdimm} namespace turned devdax), skipped with that reason everywhere else. The media size is
 * the device's (the suite's model holds it in a {@code byte[]}: at most 1 GiB); every {@link
 * #create} zeroes the device, so that each test starts on "new" media as on a file.
 */
class DaxMediaOnDevDaxTest extends CacheMediaConformance {

  private static long deviceSize;

  private final DaxMediaProvider provider = new DaxMediaProvider();

  @BeforeAll
  static void requireDevDax() throws IOException {
    Path dev = DaxTestEnvironment.devDax();
    assumeTrue(dev != null, DaxTestEnvironment.NO_DEVDAX);
    String majMin = Sysfs.majorMinor(((Number) Files.getAttribute(dev, "unix:rdev")).longValue());
    Optional<Sysfs.DevDax> info = Sysfs.LIVE.devDax(majMin);
    assumeTrue(info.isPresent(), dev + " is not a devdax device");
    deviceSize = info.get().size();
    assumeTrue(deviceSize >= 8L << 20 && deviceSize <= 1L << 30 && deviceSize % PAGE == 0,
        dev + " is " + deviceSize + " bytes: the suite needs 8 MiB to 1 GiB");
    System.out.println("devdax under test: " + info.get());
  }

  @Override
  protected long mediaSize() {
    return deviceSize;
  }

  @Override
  protected boolean supportsLargeSparseMedia() {
    return false; // a device has the size it has
  }

  @Override
  protected PersistenceDomain expectedPersistenceDomain() {
    return PersistenceDomain.DAX;
  }

  @Override
  protected CacheMedia create(Path dir, long size) throws IOException {
    CacheMedia media = provider.open(DaxTestEnvironment.devDax().toString(), MediaOptions.create(size));
    MemorySegment zeros = MemorySegment.ofArray(new byte[1 << 20]);
    for (long at = 0; at < size; at += zeros.byteSize()) {
      media.write(at, zeros.asSlice(0, Math.min(zeros.byteSize(), size - at)));
    }
    media.persist(0, size);
    return media;
  }

  @Override
  protected CacheMedia reopen(Path dir, MediaOptions options) throws IOException {
    return provider.open(DaxTestEnvironment.devDax().toString(), options);
  }

  @Test
  void persistTimings() throws IOException {
    try (CacheMedia media = newMedia(mediaSize()); Arena arena = Arena.ofConfined()) {
      DaxMediaOnFsDaxBehaviourTest.timings("devdax", media, arena);
    }
  }

  @Test
  void anotherProcessIsRefused() throws Exception {
    CacheMedia media = newMedia(mediaSize());
    try (ChildProcess child = ChildProcess.hold(DaxTestEnvironment.devDax(), false)) {
      String outcome = child.outcome();
      if (!outcome.startsWith("REFUSED") || !outcome.contains("in use by another pcache process")) {
        throw new AssertionError("the child must be refused while this process holds " + media.name() + ": "
            + outcome);
      }
    }
  }
}
