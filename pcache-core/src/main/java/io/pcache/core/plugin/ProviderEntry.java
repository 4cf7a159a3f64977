package io.pcache.core.plugin;

import io.pcache.api.Provider;

/**
 * One provider found at start-up.
 *
 * @param kind what it provides
 * @param provider the instance
 * @param module the name of the module it lives in ({@code unnamed} on the class path)
 * @param origin where it was loaded from: {@code lib/} or {@code plugins/<jar or directory>}
 */
public record ProviderEntry(ProviderKind kind, Provider provider, String module, String origin) {

  public String name() {
    return provider.name();
  }

  /** Whether this entry answers to {@code name}, by its name or one of its aliases. */
  public boolean answersTo(String name) {
    return provider.name().equals(name) || provider.aliases().contains(name);
  }

  /** Whether it came from {@code plugins/}. */
  public boolean fromPlugins() {
    return origin.startsWith(PluginLayers.PLUGINS_DIR);
  }
}
