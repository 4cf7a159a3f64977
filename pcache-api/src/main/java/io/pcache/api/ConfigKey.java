package io.pcache.api;

import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One documented configuration key: its name, the type of its value, its default and what it
 * means.
 *
 * <p>Values are written as text in {@code conf/pcache.properties}, in a {@code --config} file, in
 * the environment ({@code PCACHE_} followed by the key in upper case with {@code .} and {@code -}
 * turned into {@code _}) or as a command-line flag ({@code --key value}). The {@link Type} says how
 * the text is read; {@link Config} hands out the typed value.
 *
 * @param name the key, lower case, dot separated, for example {@code cache.size}
 * @param type how the value is parsed and checked
 * @param defaultValue the default as text, or {@code null} when the key is required
 * @param description one or two sentences for the documentation and {@code pcache config}
 * @param choices the allowed values of an {@link Type#ENUM} key, empty otherwise
 * @param min the smallest allowed value of a numeric key ({@link Long#MIN_VALUE} for none)
 * @param max the largest allowed value of a numeric key ({@link Long#MAX_VALUE} for none)
 */
public record ConfigKey(
    String name,
    Type type,
    String defaultValue,
    String description,
    List<String> choices,
    long min,
    long max) {

  private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9-]*(\\.[a-z0-9][a-z0-9-]*)*");

  /** How a value is written and read. */
  public enum Type {
    /** Free text. */
    STRING,
    /** A whole number, for example {@code 70}. */
    INT,
    /** A byte count with an optional binary unit: {@code 4096}, {@code 512K}, {@code 1G}, {@code 2T}. */
    SIZE,
    /** A duration: {@code 250ms}, {@code 5s}, {@code 2m}, {@code 1h}; a bare number is milliseconds. */
    DURATION,
    /** {@code true} or {@code false} (also {@code yes}/{@code no}, {@code on}/{@code off}). */
    BOOLEAN,
    /** One of {@link #choices()}. */
    ENUM,
    /** A file system path. */
    PATH,
    /** A device spec such as {@code file:/var/lib/pcache/cache.img}; see {@link DeviceSpec}. */
    DEVICE,
    /** A network address {@code host:port}, or {@code unix:/path/to/socket}. */
    ADDRESS
  }

  public ConfigKey {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(description, "description");
    choices = List.copyOf(choices);
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("bad configuration key name '" + name + "'");
    }
    if (type == Type.ENUM && choices.isEmpty()) {
      throw new IllegalArgumentException("enum key '" + name + "' needs choices");
    }
    if (min > max) {
      throw new IllegalArgumentException("key '" + name + "': min " + min + " > max " + max);
    }
  }

  /** Whether the key has no default and must be given. */
  public boolean required() {
    return defaultValue == null;
  }

  /** The environment variable that overrides this key: {@code cache.size} → {@code PCACHE_CACHE_SIZE}. */
  public String environmentName() {
    return "PCACHE_" + name.toUpperCase(java.util.Locale.ROOT).replace('.', '_').replace('-', '_');
  }

  public static ConfigKey string(String name, String defaultValue, String description) {
    return new ConfigKey(name, Type.STRING, defaultValue, description, List.of(), Long.MIN_VALUE, Long.MAX_VALUE);
  }

  public static ConfigKey integer(String name, int defaultValue, int min, int max, String description) {
    return new ConfigKey(name, Type.INT, Integer.toString(defaultValue), description, List.of(), min, max);
  }

  public static ConfigKey size(String name, String defaultValue, long min, long max, String description) {
    return new ConfigKey(name, Type.SIZE, defaultValue, description, List.of(), min, max);
  }

  public static ConfigKey duration(String name, String defaultValue, String description) {
    return new ConfigKey(name, Type.DURATION, defaultValue, description, List.of(), 0, Long.MAX_VALUE);
  }

  public static ConfigKey bool(String name, boolean defaultValue, String description) {
    return new ConfigKey(name, Type.BOOLEAN, Boolean.toString(defaultValue), description, List.of(), Long.MIN_VALUE, Long.MAX_VALUE);
  }

  public static ConfigKey choice(String name, String defaultValue, List<String> choices, String description) {
    return new ConfigKey(name, Type.ENUM, defaultValue, description, choices, Long.MIN_VALUE, Long.MAX_VALUE);
  }

  public static ConfigKey path(String name, String defaultValue, String description) {
    return new ConfigKey(name, Type.PATH, defaultValue, description, List.of(), Long.MIN_VALUE, Long.MAX_VALUE);
  }

  public static ConfigKey device(String name, String defaultValue, String description) {
    return new ConfigKey(name, Type.DEVICE, defaultValue, description, List.of(), Long.MIN_VALUE, Long.MAX_VALUE);
  }

  public static ConfigKey address(String name, String defaultValue, String description) {
    return new ConfigKey(name, Type.ADDRESS, defaultValue, description, List.of(), Long.MIN_VALUE, Long.MAX_VALUE);
  }
}
