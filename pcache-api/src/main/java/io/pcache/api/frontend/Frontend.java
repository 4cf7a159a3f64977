package io.pcache.api.frontend;

import java.io.IOException;
import java.util.List;

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

  /** Stops serving; see the class comment. Idempotent. */
  @Override
  void close() throws IOException;
}
