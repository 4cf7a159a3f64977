package io.pcache.core.cli;

import io.pcache.api.Config;
import io.pcache.core.config.CoreKeys;
import io.pcache.core.control.ControlClient;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Finds the running pcache that serves the configured cache, through its control socket ({@code
 * control.socket}). {@code status} and {@code drain} use it when there is one and work offline on
 * the device otherwise; {@code ctl} needs it.
 *
 * @param client the connection, empty when there is no running pcache for this cache
 * @param why when empty: why, for the user ("no pcache answers on ...")
 */
record Live(Optional<ControlClient> client, String why) {

  /** The control socket the configuration names, empty when {@code control.socket} is empty. */
  static Optional<Path> socket(Config config) {
    return config.get(CoreKeys.CONTROL_SOCKET).isBlank() ? Optional.empty()
        : Optional.of(config.getPath(CoreKeys.CONTROL_SOCKET).toAbsolutePath().normalize());
  }

  /**
   * Connects to the control socket and, when {@code checkDevice}, makes sure the pcache there
   * serves the configured {@code cache.device}: asked about another device, a status or drain
   * must not answer for the running one.
   *
   * @throws IOException when the socket exists but cannot be used (permissions)
   */
  static Live find(Config config, boolean checkDevice) throws IOException {
    Optional<Path> socket = socket(config);
    if (socket.isEmpty()) {
      return new Live(Optional.empty(), "control.socket is empty");
    }
    Optional<ControlClient> client = ControlClient.connect(socket.get());
    if (client.isEmpty()) {
      return new Live(Optional.empty(), "no pcache answers on " + socket.get());
    }
    if (checkDevice) {
      String wanted = config.getDevice(CoreKeys.CACHE_DEVICE).path().toAbsolutePath().normalize().toString();
      ControlClient.Reply r = client.get().call("status");
      String served = r.lines().stream().filter(l -> l.startsWith("device ")).map(l -> l.substring(7)).findFirst()
          .orElse("?");
      if (!served.equals(wanted)) {
        client.get().close();
        return new Live(Optional.empty(), "the pcache on " + socket.get() + " serves " + served + ", not " + wanted);
      }
    }
    return new Live(client, "");
  }
}
