package io.pcache.core.config;

import io.pcache.api.ConfigKey;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Every configuration key this installation knows: the engine's own and those declared by the
 * providers found in {@code lib/} and {@code plugins/}, each with its owner. A key that is not
 * here is an error wherever it is written.
 */
public final class ConfigSchema {

  private final Map<String, ConfigKey> keys = new LinkedHashMap<>();
  private final Map<String, String> owners = new LinkedHashMap<>();

  /**
   * Adds the keys of one owner.
   *
   * @param owner who declares them, for messages: {@code pcache-core} or a provider's module
   * @throws IllegalStateException when a key is declared twice, naming both owners
   */
  public ConfigSchema add(String owner, Collection<ConfigKey> declared) {
    for (ConfigKey key : declared) {
      String previous = owners.putIfAbsent(key.name(), owner);
      if (previous != null) {
        throw new IllegalStateException("configuration key '" + key.name() + "' is declared by both "
            + previous + " and " + owner);
      }
      keys.put(key.name(), key);
    }
    return this;
  }

  public Optional<ConfigKey> key(String name) {
    return Optional.ofNullable(keys.get(name));
  }

  /** The keys in declaration order. */
  public Collection<ConfigKey> keys() {
    return Collections.unmodifiableCollection(keys.values());
  }

  public Collection<String> names() {
    return Collections.unmodifiableSet(keys.keySet());
  }

  /** Who declared {@code name}. */
  public String owner(String name) {
    return owners.get(name);
  }

  /** The key whose environment variable is {@code envName}, if any. */
  public Optional<ConfigKey> byEnvironmentName(String envName) {
    return keys.values().stream().filter(k -> k.environmentName().equals(envName)).findFirst();
  }

  /**
   * The error for a key nobody declared, with the closest valid key.
   *
   * @param source where it was written: a file, {@code env PCACHE_X}, {@code flag --x}
   */
  public ConfigException unknownKey(String name, String value, String source) {
    return new ConfigException("unknown configuration key '" + name + "' = '" + value + "' (from " + source + ")"
        + Suggestions.didYouMean(name, names()) + "; 'pcache config' lists every key");
  }
}
