package io.pcache.testkit;

import io.pcache.api.Config;
import io.pcache.api.ConfigKey;
import io.pcache.api.DeviceSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A test-only {@link Config} over a map (sizes take K, M, G): the declared
 * keys with their defaults, overridden by the given values. Unlike the real configuration it does
 * not check ranges, so that tests can hand a provider a value the real configuration would have
 * refused.
 */
public final class MapConfig implements Config {

  private final Map<String, ConfigKey> keys = new HashMap<>();
  private final Map<String, String> values = new HashMap<>();
  private final Map<String, String> sources = new HashMap<>();

  public MapConfig(List<ConfigKey> declared, Map<String, String> overrides) {
    for (ConfigKey k : declared) {
      keys.put(k.name(), k);
      values.put(k.name(), k.defaultValue());
      sources.put(k.name(), "default");
    }
    overrides.forEach((k, v) -> {
      if (!keys.containsKey(k)) {
        throw new IllegalArgumentException("test config: key '" + k + "' is not declared");
      }
      values.put(k, v);
      sources.put(k, "test");
    });
  }

  private ConfigKey key(String name, ConfigKey.Type type) {
    ConfigKey k = keys.get(name);
    if (k == null) {
      throw new IllegalArgumentException("undeclared configuration key '" + name + "'");
    }
    if (k.type() != type) {
      throw new IllegalArgumentException("key '" + name + "' is " + k.type() + ", not " + type);
    }
    return k;
  }

  @Override
  public String get(String key) {
    if (!keys.containsKey(key)) {
      throw new IllegalArgumentException("undeclared configuration key '" + key + "'");
    }
    return values.get(key);
  }

  @Override
  public int getInt(String key) {
    key(key, ConfigKey.Type.INT);
    return Integer.parseInt(values.get(key));
  }

  @Override
  public long getSize(String key) {
    key(key, ConfigKey.Type.SIZE);
    String v = values.get(key).strip().toUpperCase(java.util.Locale.ROOT);
    int shift = switch (v.isEmpty() ? ' ' : v.charAt(v.length() - 1)) {
      case 'K' -> 10;
      case 'M' -> 20;
      case 'G' -> 30;
      default -> 0;
    };
    return Long.parseLong(shift == 0 ? v : v.substring(0, v.length() - 1)) << shift;
  }

  @Override
  public Duration getDuration(String key) {
    key(key, ConfigKey.Type.DURATION);
    return Duration.ofMillis(Long.parseLong(values.get(key)));
  }

  @Override
  public boolean getBoolean(String key) {
    key(key, ConfigKey.Type.BOOLEAN);
    if (values.get(key).equals("yes") || values.get(key).equals("on")) {
      return true;
    }
    return Boolean.parseBoolean(values.get(key));
  }

  @Override
  public Path getPath(String key) {
    key(key, ConfigKey.Type.PATH);
    return Path.of(values.get(key));
  }

  @Override
  public DeviceSpec getDevice(String key) {
    key(key, ConfigKey.Type.DEVICE);
    return DeviceSpec.parse(values.get(key));
  }

  @Override
  public String sourceOf(String key) {
    get(key);
    return sources.get(key);
  }
}
