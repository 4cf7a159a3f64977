package io.pcache.media.file;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.PersistenceDomain;
import io.pcache.testkit.CacheMediaConformance;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The conformance suite over {@link FileMediaProvider}, with the media in {@code cache.img} of
 * each test's directory; the subclasses pick the file system.
 */
abstract class FileMediaConformance extends CacheMediaConformance {

  private final FileMediaProvider provider = new FileMediaProvider();

  @Override
  protected CacheMedia create(Path dir, long size) throws IOException {
    return provider.open(location(dir), MediaOptions.create(size));
  }

  @Override
  protected CacheMedia reopen(Path dir, MediaOptions options) throws IOException {
    return provider.open(location(dir), options);
  }

  /** The domain a file under {@link #mediaRoot()} must get, from its file store's type. */
  @Override
  protected PersistenceDomain expectedPersistenceDomain() {
    try {
      String type = Files.getFileStore(mediaRoot()).type();
      return type.equals("tmpfs") || type.equals("ramfs")
          ? PersistenceDomain.VOLATILE
          : PersistenceDomain.PAGE_CACHE;
    } catch (IOException e) {
      throw new AssertionError("cannot read the file store of " + mediaRoot(), e);
    }
  }

  private static String location(Path dir) {
    return dir.resolve("cache.img").toString();
  }
}
