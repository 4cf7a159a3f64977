package io.pcache.example;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.PersistenceDomain;
import io.pcache.testkit.CacheMediaConformance;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;

/**
 * The {@code mem} media passes the whole {@link CacheMediaConformance} suite, through named
 * memories ({@code mem:NAME:SIZE}), which are the ones that survive close and reopen: the test's
 * directory only supplies a unique name.
 */
class MemCacheMediaConformanceTest extends CacheMediaConformance {

  /** The size each name was created with, since a mem location always carries its size. */
  private final Map<String, Long> sizes = new HashMap<>();

  private static String nameOf(Path dir) {
    return dir.getFileName().toString();
  }

  @Override
  protected CacheMedia create(Path dir, long size) throws IOException {
    sizes.put(nameOf(dir), size);
    return new MemMediaProvider().open(nameOf(dir) + ":" + size, MediaOptions.create(size));
  }

  @Override
  protected CacheMedia reopen(Path dir, MediaOptions options) throws IOException {
    return new MemMediaProvider().open(nameOf(dir) + ":" + sizes.get(nameOf(dir)), options);
  }

  @Override
  protected PersistenceDomain expectedPersistenceDomain() {
    return PersistenceDomain.VOLATILE;
  }

  /**
   * Anonymous memory is not sparse: {@code Arena.allocate} zeroes, so touches, every page, and a
   * close of named memory copies it once more. Even the smallest size the beyond-2-GiB test accepts
   * (2 GiB + 32 MiB) took 20 s on a 2-core build machine and needs over 4 GiB of RAM, so that test
   * runs only with {@code -Dpcache.test.large-mem=true}.
   */
  @Override
  protected boolean supportsLargeSparseMedia() {
    return Boolean.getBoolean("pcache.test.large-mem");
  }

  @Override
  protected long largeMediaSize() {
    return TWO_GIB + 2 * SEGMENT;
  }

  /** Runs before the suite's own clean-up closes the media: the memory is freed when it is closed. */
  @AfterEach
  void forgetNamedMemories() {
    sizes.keySet().forEach(MemMediaProvider::forget);
    sizes.clear();
  }
}
