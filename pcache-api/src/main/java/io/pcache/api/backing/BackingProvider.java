package io.pcache.api.backing;

import io.pcache.api.Provider;
import java.io.IOException;

/**
 * Opens {@link BackingDevice}s for a scheme ({@code block:} and so on). Found through {@link
 * java.util.ServiceLoader}; declare it with {@code provides io.pcache.api.backing.BackingProvider
 * with ...} in the plugin's module-info.
 */
public interface BackingProvider extends Provider {

  /**
   * How well this provider fits a bare location (no scheme): 0 means "cannot open it", higher is
   * better. Must be cheap and must not change anything. The default is 0.
   */
  default int probe(String location) {
    return 0;
  }

  /**
   * Opens the device at {@code location} with an exclusive claim: a device another pcache process
   * holds is refused.
   *
   * @throws java.nio.file.NoSuchFileException when it does not exist and {@link
   *     BackingOptions#createSize()} is 0 (pcache-core then tells the user how to proceed)
   * @throws IOException when it cannot be opened; the message names the device and says why
   */
  BackingDevice open(String location, BackingOptions options) throws IOException;
}
