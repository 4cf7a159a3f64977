package io.pcache.policy.gc;

import io.pcache.api.Config;

/**
 * Reads and checks the whole-number percentages that the GC policies take, with messages that
 * name the policy or configuration key, the offending value and the allowed range.
 */
final class Percent {

  private Percent() {}

  /**
   * Parses a run-time parameter value (from the control socket) as a percentage in {@code
   * [min, max]}.
   *
   * @param policy the policy name, for the message ({@code threshold})
   * @param key the parameter name, for the message ({@code percent})
   * @param value the text as given; surrounding white space is ignored
   * @param current the value that stays in force when this one is refused, for the message
   * @throws IllegalArgumentException when the text is not a whole number or lies outside the range
   */
  static int parseParameter(String policy, String key, String value, int min, int max, int current) {
    String text = value == null ? "" : value.strip();
    int parsed;
    try {
      parsed = Integer.parseInt(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(describe(policy, key, value)
          + " is not a whole number; expected " + min + ".." + max + " (keeping " + current + ")");
    }
    if (parsed < min || parsed > max) {
      throw new IllegalArgumentException(describe(policy, key, value)
          + " is out of range " + min + ".." + max + " (keeping " + current + ")");
    }
    return parsed;
  }

  /**
   * Reads a percentage from the configuration and checks it again, so that a policy is never
   * built from an unchecked value even when the configuration comes from somewhere unusual.
   *
   * @throws IllegalArgumentException naming the key, the value, where it came from and the range
   */
  static int fromConfig(Config config, String key, int min, int max) {
    int value = config.getInt(key);
    if (value < min || value > max) {
      throw new IllegalArgumentException(key + " = " + value + " (from " + config.sourceOf(key)
          + ") is out of range " + min + ".." + max);
    }
    return value;
  }

  private static String describe(String policy, String key, String value) {
    return "GC policy '" + policy + "': parameter '" + key + "' = '" + value + "'";
  }
}
