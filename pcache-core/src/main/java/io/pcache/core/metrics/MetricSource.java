package io.pcache.core.metrics;

/**
 * Something that reports metrics when asked: the cache, the front-end, a device. Called on every
 * scrape and every JMX read, from any thread; must be cheap (read counters, no I/O) and must
 * report the same names every time.
 */
@FunctionalInterface
public interface MetricSource {

  /** Reports every metric to {@code sink}. */
  void collect(Sink sink);

  /**
   * Receives metrics. Names are lower_snake_case without the group's prefix or the {@code _total}
   * suffix of counters; {@code op} (nullable) is an operation label such as {@code read}.
   */
  interface Sink {

    /** A count that only grows while the process runs. */
    void counter(String name, String op, String help, long value);

    /** A value that goes up and down. */
    void gauge(String name, String op, String help, double value);

    /** A latency distribution, in seconds when exported. */
    void histogram(String name, String op, String help, LatencyHistogram.Snapshot snapshot);
  }
}
