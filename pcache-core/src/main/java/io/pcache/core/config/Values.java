package io.pcache.core.config;

import io.pcache.api.ConfigKey;
import io.pcache.api.DeviceSpec;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses configuration values by {@link ConfigKey.Type}. Every method throws {@link
 * IllegalArgumentException} with a short reason and an example of a good value; {@link
 * LayeredConfig} adds the key and the source.
 */
public final class Values {

  private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([kmgtp]?)(i?b)?", Pattern.CASE_INSENSITIVE);
  private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)?", Pattern.CASE_INSENSITIVE);
  private static final Pattern HOST_PORT = Pattern.compile("(\\[[0-9a-fA-F:.]+]|[^:\\s]+):(\\d{1,5})");

  private Values() {}

  /** {@code 4096}, {@code 512K}, {@code 1G}, {@code 1GiB}, {@code 2T}: binary units, case-insensitive. */
  public static long parseSize(String text) {
    Matcher m = SIZE.matcher(text.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException("not a size; write a byte count with an optional unit K, M, G, T or P (for example 512M or 1G)");
    }
    int shift = switch (m.group(2).toLowerCase(Locale.ROOT)) {
      case "" -> 0;
      case "k" -> 10;
      case "m" -> 20;
      case "g" -> 30;
      case "t" -> 40;
      default -> 50;
    };
    long n;
    try {
      n = Long.parseLong(m.group(1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("size too large");
    }
    if (n > (Long.MAX_VALUE >> shift)) {
      throw new IllegalArgumentException("size too large");
    }
    return n << shift;
  }

  /** {@code 250ms}, {@code 5s}, {@code 2m}, {@code 1h}, {@code 1d}; a bare number is milliseconds. */
  public static Duration parseDuration(String text) {
    Matcher m = DURATION.matcher(text.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException("not a duration; write a number with a unit ms, s, m, h or d (for example 500ms or 5s)");
    }
    long n;
    try {
      n = Long.parseLong(m.group(1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("duration too large");
    }
    String unit = m.group(2) == null ? "ms" : m.group(2).toLowerCase(Locale.ROOT);
    return switch (unit) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
  }

  /** {@code true}/{@code false}, {@code yes}/{@code no}, {@code on}/{@code off}, {@code 1}/{@code 0}. */
  public static boolean parseBoolean(String text) {
    return switch (text.strip().toLowerCase(Locale.ROOT)) {
      case "true", "yes", "on", "1" -> true;
      case "false", "no", "off", "0" -> false;
      default -> throw new IllegalArgumentException("not a boolean; write true or false");
    };
  }

  public static int parseInt(String text) {
    try {
      return Integer.parseInt(text.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a whole number");
    }
  }

  /**
   * Parses and checks {@code text} against {@code key}: type, range and choices.
   *
   * @return the value in canonical form (numbers as numbers, sizes in bytes, ...)
   */
  public static Object parse(ConfigKey key, String text) {
    return switch (key.type()) {
      case STRING, PATH -> text.strip(); // empty means "not set" for optional keys
      case INT -> checkRange(key, parseInt(text), "");
      case SIZE -> checkRange(key, parseSize(text), " bytes");
      case DURATION -> {
        Duration d = parseDuration(text);
        checkRange(key, d.toMillis(), " ms");
        yield d;
      }
      case BOOLEAN -> parseBoolean(text);
      case ENUM -> {
        String v = text.strip().toLowerCase(Locale.ROOT);
        if (!key.choices().contains(v)) {
          throw new IllegalArgumentException("not one of " + String.join(", ", key.choices())
              + Suggestions.didYouMean(v, key.choices()));
        }
        yield v;
      }
      case DEVICE -> DeviceSpec.parse(text);
      case ADDRESS -> {
        String v = text.strip();
        if (v.startsWith("unix:") && v.length() > 5) {
          yield v;
        }
        Matcher m = HOST_PORT.matcher(v);
        if (!m.matches() || Integer.parseInt(m.group(2)) > 65535) {
          throw new IllegalArgumentException("not an address; write host:port (for example 127.0.0.1:10809) or unix:/path/to/socket");
        }
        yield v;
      }
    };
  }

  private static long checkRange(ConfigKey key, long value, String unit) {
    if (value < key.min() || value > key.max()) {
      throw new IllegalArgumentException("out of range: must be " + range(key, unit));
    }
    return value;
  }

  private static String range(ConfigKey key, String unit) {
    boolean sized = key.type() == ConfigKey.Type.SIZE;
    String lo = key.min() == Long.MIN_VALUE ? null : (sized ? human(key.min()) : key.min() + unit.strip());
    String hi = key.max() == Long.MAX_VALUE ? null : (sized ? human(key.max()) : key.max() + unit.strip());
    if (lo != null && hi != null) {
      return "from " + lo + " to " + hi;
    }
    return lo != null ? "at least " + lo : "at most " + hi;
  }

  /** A byte count in the largest binary unit that divides it: {@code 536870912} → {@code 512M}. */
  public static String human(long bytes) {
    String[] units = {"", "K", "M", "G", "T", "P"};
    int u = 0;
    while (u < units.length - 1 && bytes != 0 && bytes % 1024 == 0) {
      bytes /= 1024;
      u++;
    }
    return bytes + units[u];
  }
}
