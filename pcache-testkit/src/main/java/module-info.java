/**
 * The pcache test kit: abstract JUnit 5 conformance suites that every {@code CacheMedia} and
 * {@code BackingDevice} implementation extends, plus helpers for seeded, reproducible test data.
 */
module io.pcache.testkit {
  requires transitive io.pcache.api;
  requires transitive org.junit.jupiter.api;
  requires transitive org.junit.jupiter.params;

  exports io.pcache.testkit;
}
