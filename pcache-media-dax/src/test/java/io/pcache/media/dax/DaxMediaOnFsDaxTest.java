package io.pcache.media.dax;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.PersistenceDomain;
import io.pcache.testkit.CacheMediaConformance;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;

/**
 * The conformance suite on files of a DAX file system: runs only where one is given, with {@code
 * -Dpcache.test.daxDir=DIR} or {@code PCACHE_TEST_DAX_DIR=DIR} (a directory on a file system
 * mounted with {@code -o dax}, as {@code src/test/vm/dax-vm-test.sh} makes in the VM harness);
 * skipped with that reason everywhere else.
 */
class DaxMediaOnFsDaxTest extends CacheMediaConformance {

  private final DaxMediaProvider provider = new DaxMediaProvider();

  @BeforeAll
  static void requireDaxDirectory() {
    assumeTrue(DaxTestEnvironment.daxDir() != null, DaxTestEnvironment.NO_DAX_DIR);
  }

  @Override
  protected Path mediaRoot() {
    return DaxTestEnvironment.daxDir();
  }

  @Override
  protected CacheMedia create(Path dir, long size) throws IOException {
    return provider.open(dir.resolve("cache.img").toString(), MediaOptions.create(size));
  }

  @Override
  protected CacheMedia reopen(Path dir, MediaOptions options) throws IOException {
    return provider.open(dir.resolve("cache.img").toString(), options);
  }

  @Override
  protected PersistenceDomain expectedPersistenceDomain() {
    return PersistenceDomain.DAX;
  }

  /**
   * DAX media is preallocated (never sparse), so 3 GiB media would cost 3 GiB of persistent memory
   * and the time to write it; the beyond-2-GiB test is skipped. Offsets past 2 GiB are the JDK's
   * 64-bit mapping, the same as the file media's, where the test runs.
   */
  @Override
  protected boolean supportsLargeSparseMedia() {
    return false;
  }
}
