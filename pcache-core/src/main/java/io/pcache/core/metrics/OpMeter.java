package io.pcache.core.metrics;

import java.util.concurrent.atomic.LongAdder;

/**
 * The meter of one operation ({@code read}, {@code write}, ...) of one device: completed
 * operations with their latency, bytes moved, failures. Lock-free; see {@link LatencyHistogram}
 * for the cost.
 */
public final class OpMeter {

  private final String op;
  private final LatencyHistogram latency;
  private final LongAdder untimed;
  private final LongAdder bytes = new LongAdder();
  private final LongAdder errors = new LongAdder();

  /** A timed meter: {@link #done} records latencies. */
  public OpMeter(String op) {
    this(op, true);
  }

  /** @param timed whether operations are timed ({@link #done}) or only counted ({@link #count}) */
  public OpMeter(String op, boolean timed) {
    this.op = op;
    this.latency = timed ? new LatencyHistogram() : null;
    this.untimed = timed ? null : new LongAdder();
  }

  /** Whether this meter has a latency histogram. */
  public boolean timed() {
    return latency != null;
  }

  /** The operation's name, lower case: {@code read}, {@code write}, {@code write_zeroes}. */
  public String op() {
    return op;
  }

  /** Counts an operation that started at {@code startNanos} ({@link System#nanoTime()}) and moved {@code n} bytes. */
  public void done(long startNanos, long n) {
    latency.record(System.nanoTime() - startNanos);
    bytes.add(n);
  }

  /** Counts an operation that moved {@code n} bytes, on an untimed meter. */
  public void count(long n) {
    untimed.increment();
    bytes.add(n);
  }

  /** Counts a failed operation (not in the latency histogram, not in the bytes). */
  public void failed() {
    errors.increment();
  }

  /** The latency histogram of a timed meter; null for an untimed one. */
  public LatencyHistogram latency() {
    return latency;
  }

  /** Bytes moved by completed operations. */
  public long bytes() {
    return bytes.sum();
  }

  /** Failed operations. */
  public long errors() {
    return errors.sum();
  }

  /** Completed operations. */
  public long count() {
    return latency != null ? latency.snapshot().count() : untimed.sum();
  }
}
