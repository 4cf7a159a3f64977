/**
 * The pcache test kit: abstract JUnit 5 conformance suites that every {@code CacheMedia} and
 * {@code BackingDevice} implementation extends, plus helpers for seeded, reproducible test data.
 *
 * <p>The package is open to JUnit so that the suites' lifecycle methods (package-private, so that
 * driver tests do not see them) can be called when the kit is on the module path.
 */
module io.pcache.testkit {
  requires transitive io.pcache.api;
  requires transitive org.junit.jupiter.api;
  requires transitive org.junit.jupiter.params;

  exports io.pcache.testkit;

  opens io.pcache.testkit to
      org.junit.platform.commons;
}
