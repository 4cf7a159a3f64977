package io.pcache.api;

import java.util.List;

/**
 * What every pcache provider has in common: a name users type in the configuration, a one-line
 * description for {@code pcache plugins}, and the configuration keys it reads.
 *
 * <p>Providers are found through {@link java.util.ServiceLoader}, in the boot layer ({@code lib/})
 * and in the plugin layers built from {@code plugins/}. A provider must have a public no-argument
 * constructor (or a public static {@code provider()} method), must be cheap to construct, and must
 * not touch any device before one of its factory methods is called.
 *
 * <p>Implementations are thread-safe: the registry may call them from any thread.
 */
public interface Provider {

  /**
   * The name users select this provider by: a media or backing scheme ({@code file}, {@code dax},
   * {@code block}), a front-end ({@code nbd}, {@code ublk}) or a GC policy ({@code threshold}).
   * Lower case letters, digits and {@code -}; unique among providers of the same kind.
   */
  String name();

  /** Other names that select this provider as well; empty by default. */
  default List<String> aliases() {
    return List.of();
  }

  /** One line that tells a user what this provider does, shown by {@code pcache plugins}. */
  String description();

  /**
   * The configuration keys this provider reads, with their defaults and documentation. Every key
   * must start with a prefix owned by the provider (for example {@code nbd.} or {@code gc.threshold.}).
   * The configuration rejects keys that no provider and no part of the engine declares.
   */
  default List<ConfigKey> configKeys() {
    return List.of();
  }
}
