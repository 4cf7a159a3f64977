package io.pcache.media.file;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The conformance suite with the media under the module's {@code target/} directory, which is on
 * a disk-backed file system in any normal build (PAGE_CACHE, msync persist). The expected domain
 * follows the file store's type, so a build tree on tmpfs expects VOLATILE instead.
 */
class FileMediaOnDiskTest extends FileMediaConformance {

  @Override
  protected Path mediaRoot() {
    try {
      return Files.createDirectories(Path.of("target", "media-tests").toAbsolutePath());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
