package io.pcache.frontend.nbd;

import io.pcache.api.BlockDevice;
import io.pcache.api.Config;
import io.pcache.api.ConfigKey;
import io.pcache.api.frontend.Frontend;
import io.pcache.api.frontend.FrontendProvider;
import java.io.IOException;
import java.util.List;

/**
 * The {@code nbd} front-end: serves the cached device over the NBD protocol on TCP and Unix
 * sockets, to nbd-client (the Linux kernel), qemu, libnbd tools (nbdinfo, nbdcopy, nbdfuse), fio
 * and any other NBD client.
 *
 * <h2>Configuration</h2>
 *
 * <table>
 *   <caption>Keys</caption>
 *   <tr><th>key</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>{@code nbd.listen}</td><td>{@code 127.0.0.1:10809}</td><td>host:port, [v6]:port or unix:/path</td></tr>
 *   <tr><td>{@code nbd.socket}</td><td>(none)</td><td>an extra Unix socket</td></tr>
 *   <tr><td>{@code nbd.export-name}</td><td>{@code pcache}</td><td>the export's name (the empty name
 *       selects it too)</td></tr>
 *   <tr><td>{@code nbd.description}</td><td>(the device's name)</td><td>shown by NBD_OPT_LIST and nbdinfo</td></tr>
 *   <tr><td>{@code nbd.max-payload}</td><td>{@code 32M}</td><td>largest READ/WRITE; the maximum block size</td></tr>
 *   <tr><td>{@code nbd.read-only}</td><td>{@code false}</td><td>export read-only</td></tr>
 *   <tr><td>{@code nbd.tls}</td><td>{@code off}</td><td>off, optional or required</td></tr>
 *   <tr><td>{@code nbd.tls.keystore}, {@code nbd.tls.password}</td><td>(none)</td><td>PKCS12 keystore with
 *       the server's key and certificate</td></tr>
 *   <tr><td>{@code nbd.max-connections}</td><td>{@code 128}</td><td>connections at once</td></tr>
 *   <tr><td>{@code nbd.max-requests}</td><td>{@code 128}</td><td>requests in flight per connection</td></tr>
 *   <tr><td>{@code nbd.poll-us}</td><td>{@code 100}</td><td>how long a connection polls for its next
 *       request before it sleeps</td></tr>
 * </table>
 *
 * <p>Endpoints look like {@code nbd://127.0.0.1:10809/pcache} and {@code
 * nbd+unix:///pcache?socket=/run/pcache.sock} ({@code nbds} when TLS is required).
 */
public final class NbdFrontendProvider implements FrontendProvider {

  private static final List<ConfigKey> KEYS = List.of(
      ConfigKey.address(NbdSettings.LISTEN, "127.0.0.1:10809",
          "Where the NBD server listens: host:port (port 0 picks a free one), [v6addr]:port, or unix:/path/to/socket."),
      ConfigKey.path(NbdSettings.SOCKET, "",
          "An additional Unix socket to serve NBD on (empty: none), for nbd+unix:///pcache?socket=PATH."),
      ConfigKey.string(NbdSettings.EXPORT_NAME, "pcache",
          "The NBD export name clients ask for; the empty (default) export name selects it as well."),
      ConfigKey.string(NbdSettings.DESCRIPTION, "",
          "A description of the export shown to clients (NBD_OPT_LIST, nbdinfo); empty: the device's name."),
      ConfigKey.size(NbdSettings.MAX_PAYLOAD, "32M", 1L << 20, 256L << 20,
          "The largest NBD read or write accepted (advertised as the maximum block size); a multiple of 512."),
      ConfigKey.bool(NbdSettings.READ_ONLY, false,
          "Export the device read-only (writes, trims and zeroing fail with EPERM)."),
      ConfigKey.choice(NbdSettings.TLS, "off", List.of("off", "optional", "required"),
          "TLS for NBD (STARTTLS): off, optional (clients may upgrade), or required (every client must)."),
      ConfigKey.path(NbdSettings.TLS_KEYSTORE, "",
          "PKCS12 keystore holding the NBD server's private key and certificate; needed when nbd.tls is not off."),
      ConfigKey.string(NbdSettings.TLS_PASSWORD, "", "The password of nbd.tls.keystore (and of its key)."),
      ConfigKey.integer(NbdSettings.MAX_CONNECTIONS, 128, 1, 65536,
          "How many NBD connections are served at once; further connections are closed at once."),
      ConfigKey.integer(NbdSettings.MAX_REQUESTS, 128, 1, 4096,
          "How many requests one NBD connection may have in flight; beyond that the server stops reading."),
      ConfigKey.integer(NbdSettings.POLL_US, 100, 0, 10_000,
          "Microseconds a connection polls its socket for the next request before it sleeps (0: sleeps at once);"
              + " saves a wake-up per request at low queue depth for up to that much CPU after each reply."));

  @Override
  public String name() {
    return "nbd";
  }

  @Override
  public String description() {
    return "NBD server on TCP and Unix sockets (fixed newstyle, structured replies, block status, TLS, multi-conn)";
  }

  @Override
  public List<ConfigKey> configKeys() {
    return KEYS;
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalArgumentException for settings that do not fit together (TLS without keystore, a
   *     payload limit that is not a multiple of 512)
   * @throws IOException when the TLS keystore cannot be read
   */
  @Override
  public Frontend create(BlockDevice device, Config config) throws IOException {
    NbdSettings settings = NbdSettings.from(config);
    String description = settings.description().isEmpty() ? device.name() : settings.description();
    Export export = new Export(settings.exportName(), description, device, settings.readOnly());
    return new NbdServer(List.of(export), settings, settings.sslContext());
  }
}
