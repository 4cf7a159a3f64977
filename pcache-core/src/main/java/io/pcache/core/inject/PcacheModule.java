package io.pcache.core.inject;

import com.google.inject.AbstractModule;
import io.pcache.api.Config;
import io.pcache.core.config.LayeredConfig;
import io.pcache.core.plugin.PluginRegistry;

/**
 * The object graph of one pcache process: the configuration and the providers it selects. Guice is
 * used for injection only (no AOP, no method interception, which fails on the module path).
 *
 * <p>The launcher builds one injector from this module and asks it for commands; later the engine
 * and the front-end are assembled the same way from the selected providers.
 */
public final class PcacheModule extends AbstractModule {

  private final PluginRegistry registry;
  private final LayeredConfig config;

  public PcacheModule(PluginRegistry registry, LayeredConfig config) {
    this.registry = registry;
    this.config = config;
  }

  @Override
  protected void configure() {
    bind(PluginRegistry.class).toInstance(registry);
    bind(LayeredConfig.class).toInstance(config);
    bind(Config.class).toInstance(config);
  }
}
