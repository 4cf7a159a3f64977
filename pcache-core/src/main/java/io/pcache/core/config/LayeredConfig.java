package io.pcache.core.config;

import io.pcache.api.Config;
import io.pcache.api.ConfigKey;
import io.pcache.api.DeviceSpec;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.commons.configuration2.CompositeConfiguration;
import org.apache.commons.configuration2.MapConfiguration;
import org.apache.commons.configuration2.PropertiesConfiguration;
import org.apache.commons.configuration2.ex.ConfigurationException;

/**
 * The effective configuration: layers of Apache Commons Configuration, checked against a {@link
 * ConfigSchema} as a whole before anyone reads a value.
 *
 * <p>Precedence, highest first: command-line flags ({@code --cache.size 2G}), environment
 * ({@code PCACHE_CACHE_SIZE=2G}), the file given with {@code --config FILE}, the installation's
 * {@code conf/pcache.properties}, and the defaults every {@link ConfigKey} carries. Values may
 * refer to other keys ({@code file:${data.dir}/cache.img}); Commons Configuration interpolates them
 * across the layers, so a flag that moves {@code data.dir} moves every path built from it.
 *
 * <p>Relative {@link ConfigKey.Type#PATH} values written in a file or taken from a default are
 * relative to the installation directory; those given as flags or in the environment are relative
 * to the current directory, as a user typing them expects.
 *
 * <p>Every problem is a {@link ConfigException} whose one-line message names the key, the value
 * and its source: an unknown key (with the closest valid one), a value that does not parse or is
 * out of range, a required key with no value, an unresolved {@code ${...}}.
 */
public final class LayeredConfig implements Config {

  /** Environment variables that belong to the launcher, not to the configuration. */
  static final Set<String> RESERVED_ENV = Set.of("PCACHE_HOME", "PCACHE_JAVA", "PCACHE_JAVA_OPTS", "PCACHE_OPTS",
      "PCACHE_CONFIG", "PCACHE_DEBUG", "PCACHE_LOG_PATTERN");

  private record Layer(String source, Map<String, String> values) {}

  private record Entry(ConfigKey key, String text, Object value, String source) {}

  private final ConfigSchema schema;
  private final Path home;
  private final Map<String, Entry> entries;

  private LayeredConfig(ConfigSchema schema, Path home, Map<String, Entry> entries) {
    this.schema = schema;
    this.home = home;
    this.entries = entries;
  }

  /**
   * Reads and checks the configuration.
   *
   * @param home the installation directory (holds {@code conf/pcache.properties})
   * @param configFile the {@code --config} file, if one was given; it must exist
   * @param environment the process environment (only {@code PCACHE_*} variables are read)
   * @param flags key/value pairs from the command line, keys already known to the schema
   * @param cwd the current directory, for relative paths in flags and environment
   */
  public static LayeredConfig load(ConfigSchema schema, Path home, Optional<Path> configFile,
      Map<String, String> environment, Map<String, String> flags, Path cwd) {
    List<Layer> layers = new ArrayList<>();
    Map<String, String> flagValues = new LinkedHashMap<>();
    flags.forEach((k, v) -> {
      schema.key(k).orElseThrow(() -> schema.unknownKey(k, v, "flag --" + k));
      flagValues.put(k, absolutize(schema, k, v, cwd));
    });
    layers.add(new Layer("flag", flagValues));
    layers.add(new Layer("env", environmentLayer(schema, environment, cwd)));
    if (configFile.isPresent()) {
      Path file = configFile.get().toAbsolutePath();
      if (!Files.isRegularFile(file)) {
        throw new ConfigException("configuration file " + file + " (from --config) does not exist or is not a file");
      }
      layers.add(new Layer(file.toString(), readFile(schema, file, file.getParent())));
    }
    Path conf = home.resolve("conf").resolve("pcache.properties");
    if (Files.isRegularFile(conf)) {
      layers.add(new Layer(conf.toString(), readFile(schema, conf, home)));
    }
    Map<String, String> defaults = new LinkedHashMap<>();
    for (ConfigKey key : schema.keys()) {
      if (key.defaultValue() != null) {
        defaults.put(key.name(), absolutize(schema, key.name(), key.defaultValue(), home));
      }
    }
    layers.add(new Layer("default", defaults));
    return resolve(schema, home, layers);
  }

  private static Map<String, String> environmentLayer(ConfigSchema schema, Map<String, String> environment, Path cwd) {
    Map<String, String> values = new LinkedHashMap<>();
    environment.entrySet().stream()
        .filter(e -> e.getKey().startsWith("PCACHE_") && !RESERVED_ENV.contains(e.getKey()))
        .sorted(Map.Entry.comparingByKey())
        .forEach(e -> {
          ConfigKey key = schema.byEnvironmentName(e.getKey()).orElseThrow(() -> new ConfigException(
              "unknown environment variable " + e.getKey() + "='" + e.getValue() + "'"
                  + Suggestions.closest(e.getKey(), schema.keys().stream().map(ConfigKey::environmentName).toList())
                      .map(c -> "; did you mean " + c + "?").orElse("")
                  + " (PCACHE_* variables set configuration keys; 'pcache config' lists them)"));
          values.put(key.name(), absolutize(schema, key.name(), e.getValue(), cwd));
        });
    return values;
  }

  private static Map<String, String> readFile(ConfigSchema schema, Path file, Path base) {
    PropertiesConfiguration properties = new PropertiesConfiguration();
    try (Reader reader = Files.newBufferedReader(file)) {
      properties.read(reader);
    } catch (NoSuchFileException e) {
      throw new ConfigException("configuration file " + file + " does not exist");
    } catch (IOException | ConfigurationException e) {
      throw new ConfigException("cannot read configuration file " + file + ": " + e.getMessage(), e);
    }
    Map<String, String> values = new LinkedHashMap<>();
    for (Iterator<String> it = properties.getKeys(); it.hasNext(); ) {
      String k = it.next();
      List<Object> all = properties.getList(k);
      String v = all.isEmpty() ? "" : String.valueOf(all.get(all.size() - 1));
      schema.key(k).orElseThrow(() -> schema.unknownKey(k, v, file.toString()));
      if (all.size() > 1) {
        throw new ConfigException("configuration key '" + k + "' is set " + all.size() + " times in " + file + "; keep one");
      }
      values.put(k, absolutize(schema, k, v, base));
    }
    return values;
  }

  /** Makes a relative PATH value absolute against {@code base}; other values pass unchanged. */
  private static String absolutize(ConfigSchema schema, String key, String value, Path base) {
    ConfigKey k = schema.key(key).orElseThrow();
    String v = value.strip();
    if (k.type() != ConfigKey.Type.PATH || v.isEmpty() || v.startsWith("${")) {
      return value;
    }
    return base.resolve(v).normalize().toString();
  }

  private static LayeredConfig resolve(ConfigSchema schema, Path home, List<Layer> layers) {
    CompositeConfiguration composite = new CompositeConfiguration();
    for (Layer layer : layers) {
      composite.addConfiguration(new MapConfiguration(new LinkedHashMap<String, Object>(layer.values())));
    }
    Map<String, Entry> entries = new LinkedHashMap<>();
    for (ConfigKey key : schema.keys()) {
      String source = layers.stream().filter(l -> l.values().containsKey(key.name())).findFirst()
          .map(l -> describe(l, key)).orElse("nowhere");
      String text;
      try {
        text = composite.getString(key.name());
      } catch (RuntimeException e) {
        throw new ConfigException("configuration key '" + key.name() + "' (from " + source + "): " + e.getMessage(), e);
      }
      if (text == null) {
        if (key.required()) {
          throw new ConfigException("missing required configuration key '" + key.name() + "' (" + key.description()
              + "); set it in conf/pcache.properties, as " + key.environmentName() + " or with --" + key.name());
        }
        entries.put(key.name(), new Entry(key, null, null, source));
        continue;
      }
      if (text.contains("${")) {
        throw new ConfigException("configuration key '" + key.name() + "' = '" + text + "' (from " + source
            + "): unresolved variable; only other configuration keys can be referred to, e.g. ${data.dir}");
      }
      Object value;
      try {
        value = Values.parse(key, text);
      } catch (IllegalArgumentException e) {
        throw new ConfigException("bad value for configuration key '" + key.name() + "' = '" + text + "' (from "
            + source + "): " + e.getMessage());
      }
      entries.put(key.name(), new Entry(key, text, value, source));
    }
    return new LayeredConfig(schema, home, entries);
  }

  private static String describe(Layer layer, ConfigKey key) {
    return switch (layer.source()) {
      case "flag" -> "flag --" + key.name();
      case "env" -> "env " + key.environmentName();
      default -> layer.source();
    };
  }

  private Entry entry(String key, ConfigKey.Type... types) {
    Entry e = entries.get(key);
    if (e == null) {
      throw new IllegalArgumentException("no configuration key '" + key + "' is declared" + Suggestions.didYouMean(key, entries.keySet()));
    }
    if (types.length > 0 && !List.of(types).contains(e.key().type())) {
      throw new IllegalArgumentException("configuration key '" + key + "' is a " + e.key().type() + ", not a " + List.of(types));
    }
    if (e.value() == null) {
      throw new IllegalArgumentException("configuration key '" + key + "' has no value");
    }
    return e;
  }

  /** The schema this configuration was checked against. */
  public ConfigSchema schema() {
    return schema;
  }

  /** The installation directory. */
  public Path home() {
    return home;
  }

  @Override
  public String get(String key) {
    Entry e = entries.get(key);
    if (e == null) {
      throw new IllegalArgumentException("no configuration key '" + key + "' is declared" + Suggestions.didYouMean(key, entries.keySet()));
    }
    return e.text();
  }

  @Override
  public int getInt(String key) {
    return Math.toIntExact(((Number) entry(key, ConfigKey.Type.INT).value()).longValue());
  }

  @Override
  public long getSize(String key) {
    return ((Number) entry(key, ConfigKey.Type.SIZE).value()).longValue();
  }

  @Override
  public Duration getDuration(String key) {
    return (Duration) entry(key, ConfigKey.Type.DURATION).value();
  }

  @Override
  public boolean getBoolean(String key) {
    return (Boolean) entry(key, ConfigKey.Type.BOOLEAN).value();
  }

  @Override
  public Path getPath(String key) {
    String v = (String) entry(key, ConfigKey.Type.PATH).value();
    if (v.isEmpty()) {
      throw new IllegalArgumentException("configuration key '" + key + "' is not set");
    }
    return home.resolve(v);
  }

  @Override
  public DeviceSpec getDevice(String key) {
    return (DeviceSpec) entry(key, ConfigKey.Type.DEVICE).value();
  }

  @Override
  public String sourceOf(String key) {
    Entry e = entries.get(key);
    if (e == null) {
      throw new IllegalArgumentException("no configuration key '" + key + "' is declared");
    }
    return e.source();
  }
}
