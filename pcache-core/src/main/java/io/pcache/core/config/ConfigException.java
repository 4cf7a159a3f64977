package io.pcache.core.config;

/**
 * A configuration problem, with a one-line message that names the key, the value and where it
 * came from, and where possible the closest valid key or value. The launcher prints the message as
 * it is and exits with status 2.
 */
public final class ConfigException extends RuntimeException {

  public ConfigException(String message) {
    super(message);
  }

  public ConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
