package io.pcache.frontend.ublk;

import io.pcache.api.Config;
import io.pcache.api.ConfigKey;
import io.pcache.api.DeviceSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** A test {@link Config}: the declared keys with their defaults, overridden by the given values (K, M, G sizes). */
final class MapConfig implements Config {

  private final Map<String, ConfigKey> keys = new HashMap<>();
  private final Map<String, String> values = new HashMap<>();

  MapConfig(List<ConfigKey> declared, Map<String, String> overrides) {
    for (ConfigKey k : declared) {
      keys.put(k.name(), k);
      values.put(k.name(), k.defaultValue());
    }
    overrides.forEach((k, v) -> {
      if (!keys.containsKey(k)) {
        throw new IllegalArgumentException("test config: key '" + k + "' is not declared");
      }
      values.put(k, v);
    });
  }

  private String value(String key, ConfigKey.Type type) {
    ConfigKey k = keys.get(key);
    if (k == null || k.type() != type) {
      throw new IllegalArgumentException("key '" + key + "' is not a declared " + type);
    }
    return values.get(key);
  }

  @Override
  public String get(String key) {
    if (!keys.containsKey(key)) {
      throw new IllegalArgumentException("undeclared key " + key);
    }
    return values.get(key);
  }

  @Override
  public int getInt(String key) {
    return Integer.parseInt(value(key, ConfigKey.Type.INT));
  }

  @Override
  public long getSize(String key) {
    String v = value(key, ConfigKey.Type.SIZE).strip().toUpperCase(Locale.ROOT);
    int shift = switch (v.charAt(v.length() - 1)) {
      case 'K' -> 10;
      case 'M' -> 20;
      case 'G' -> 30;
      default -> 0;
    };
    return Long.parseLong(shift == 0 ? v : v.substring(0, v.length() - 1)) << shift;
  }

  @Override
  public Duration getDuration(String key) {
    throw new IllegalArgumentException(key);
  }

  @Override
  public boolean getBoolean(String key) {
    return Boolean.parseBoolean(value(key, ConfigKey.Type.BOOLEAN));
  }

  @Override
  public Path getPath(String key) {
    return Path.of(value(key, ConfigKey.Type.PATH));
  }

  @Override
  public DeviceSpec getDevice(String key) {
    throw new IllegalArgumentException(key);
  }

  @Override
  public String sourceOf(String key) {
    return "test";
  }
}
