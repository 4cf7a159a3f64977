package io.pcache.media.file;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;

/** The conformance suite with the media on tmpfs ({@code /dev/shm}): VOLATILE, fence-only persist. */
class FileMediaOnTmpfsTest extends FileMediaConformance {

  static final Path SHM = Path.of("/dev/shm");

  @BeforeAll
  static void requireTmpfs() throws IOException {
    assumeTrue(Files.isDirectory(SHM), SHM + " does not exist");
    assumeTrue(Files.getFileStore(SHM).type().equals("tmpfs"), SHM + " is not tmpfs");
  }

  @Override
  protected Path mediaRoot() {
    return SHM;
  }
}
