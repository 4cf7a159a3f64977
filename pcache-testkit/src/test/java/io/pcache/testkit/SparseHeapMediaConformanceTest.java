package io.pcache.testkit;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.PersistenceDomain;
import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumSet;
import org.junit.jupiter.api.AfterEach;

/** The suite passes on a correct media without a mapping (the suite's own reference). */
class SparseHeapMediaConformanceTest extends CacheMediaConformance {

  @Override
  protected CacheMedia create(Path dir, long size) throws IOException {
    return SparseHeapMedia.create(dir, size, EnumSet.noneOf(SparseHeapMedia.Flaw.class));
  }

  @Override
  protected CacheMedia reopen(Path dir, MediaOptions options) throws IOException {
    return SparseHeapMedia.open(dir, options, EnumSet.noneOf(SparseHeapMedia.Flaw.class));
  }

  @Override
  protected PersistenceDomain expectedPersistenceDomain() {
    return PersistenceDomain.VOLATILE;
  }

  @AfterEach
  void forgetMedia() {
    SparseHeapMedia.forget(mediaDirectory());
  }
}
