package io.pcache.api.gc;

import io.pcache.api.Config;
import io.pcache.api.Provider;

/**
 * Creates {@link GcPolicy}s of one kind ({@code threshold}, {@code watermark}, ...). Found through
 * {@link java.util.ServiceLoader}; declare it with {@code provides io.pcache.api.gc.GcPolicyProvider
 * with ...} in the plugin's module-info.
 */
public interface GcPolicyProvider extends Provider {

  /**
   * Creates a policy from the configuration.
   *
   * @param config the effective configuration, holding this provider's {@link #configKeys()}
   */
  GcPolicy create(Config config);
}
