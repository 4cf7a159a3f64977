package io.pcache.api.frontend;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * Serves one {@link io.pcache.api.BlockDevice} to users: an NBD server, a ublk device, ...
 *
 * <p>Life cycle: {@link #start()} once, then {@link #close()} once. {@code close} stops accepting
 * new requests, waits for the requests in flight to complete (their replies are sent), and
 * releases every resource; it does not flush the device (the engine does that when it shuts
 * down). Both may be called from any thread.
 */
public interface Frontend extends AutoCloseable {

  /**
   * Starts serving. Returns when users can connect.
   *
   * @throws IOException when the front-end cannot start (address in use, kernel driver missing,
   *     no privilege, ...): the message says what is missing and what to do
   */
  void start() throws IOException;

  /**
   * How users reach the device, once started, one entry per way: for example
   * {@code nbd://127.0.0.1:10809/pcache} or {@code /dev/ublkb0}.
   */
  List<String> endpoints();

  /**
   * What this front-end counts, for monitoring (pcache exports it over JMX as {@code
   * io.pcache:type=Frontend} and to Prometheus as {@code pcache_frontend_*}): connections,
   * queues, requests, errors. Requests, bytes and latencies per operation are measured by pcache
   * on the device it hands to {@link FrontendProvider#create}, so a front-end need not count them.
   *
   * <p>Contract: keys are {@code lower_snake_case}; a key ending in {@code _total} is a counter
   * that never decreases while the front-end lives, any other key is a gauge (a value now). Every
   * call returns the same keys, from {@link #start()} on. Called from any thread, at any time
   * (also before {@code start} and after {@code close}); it must be cheap (read counters, no I/O,
   * no lock held by the I/O path). The default reports nothing.
   */
  default Map<String, Long> metrics() {
    return Map.of();
  }

  /** Stops serving; see the class comment. Idempotent. */
  @Override
  void close() throws IOException;
}
