package io.pcache.api.frontend;

import io.pcache.api.BlockDevice;
import io.pcache.api.Config;
import io.pcache.api.Provider;
import java.io.IOException;
import java.util.Optional;

/**
 * Creates {@link Frontend}s of one kind ({@code nbd}, {@code ublk}, ...). Found through {@link
 * java.util.ServiceLoader}; declare it with {@code provides io.pcache.api.frontend.FrontendProvider
 * with ...} in the plugin's module-info.
 */
public interface FrontendProvider extends Provider {

  /**
   * Why this front-end cannot work on this machine (a kernel module not loaded, a device node
   * missing), or empty when it should. Must be cheap and change nothing.
   */
  default Optional<String> unavailableReason() {
    return Optional.empty();
  }

  /**
   * Creates a front-end for {@code device}; it does not serve until {@link Frontend#start()}.
   *
   * @param config the effective configuration, holding this provider's {@link #configKeys()}
   */
  Frontend create(BlockDevice device, Config config) throws IOException;
}
