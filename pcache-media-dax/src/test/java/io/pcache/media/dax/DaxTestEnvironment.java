package io.pcache.media.dax;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the DAX tests find persistent memory: a system property, else an environment variable. */
final class DaxTestEnvironment {

  static final String NO_DAX_DIR = "no DAX directory: set -Dpcache.test.daxDir=DIR or PCACHE_TEST_DAX_DIR=DIR to"
      + " a directory on a file system mounted with -o dax (src/test/vm/dax-vm-test.sh does, in the VM harness)";

  static final String NO_DEVDAX = "no devdax device to overwrite: set -Dpcache.test.devdax=/dev/daxX.Y or"
      + " PCACHE_TEST_DEVDAX=/dev/daxX.Y (src/test/vm/dax-vm-test.sh does, in the VM harness)";

  private DaxTestEnvironment() {}

  /** The DAX directory, or {@code null}. */
  static Path daxDir() {
    String dir = setting("pcache.test.daxDir", "PCACHE_TEST_DAX_DIR");
    return dir == null || !Files.isDirectory(Path.of(dir)) ? null : Path.of(dir);
  }

  /** The devdax device the tests may overwrite, or {@code null}. */
  static Path devDax() {
    String dev = setting("pcache.test.devdax", "PCACHE_TEST_DEVDAX");
    return dev == null || !Files.exists(Path.of(dev)) ? null : Path.of(dev);
  }

  private static String setting(String property, String env) {
    String value = System.getProperty(property);
    if (value == null || value.isBlank()) {
      value = System.getenv(env);
    }
    return value == null || value.isBlank() ? null : value;
  }
}
