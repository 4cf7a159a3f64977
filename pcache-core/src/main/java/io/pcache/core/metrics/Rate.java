package io.pcache.core.metrics;

/**
 * A per-second rate of a counter, for JMX users who have no {@code rate()}: the change between
 * two readings at least {@link #MIN_WINDOW_NANOS} apart, divided by the time between them. Read
 * only when metrics are read, never on the I/O path.
 */
final class Rate {

  static final long MIN_WINDOW_NANOS = 1_000_000_000L;

  private long lastValue;
  private long lastNanos;
  private boolean started;
  private double rate;

  /** The rate given the counter's current value. */
  synchronized double update(long value, long nowNanos) {
    if (!started) {
      started = true;
      lastValue = value;
      lastNanos = nowNanos;
      return 0;
    }
    long dt = nowNanos - lastNanos;
    if (dt >= MIN_WINDOW_NANOS) {
      rate = (value - lastValue) * 1e9 / dt;
      lastValue = value;
      lastNanos = nowNanos;
    }
    return rate;
  }
}
