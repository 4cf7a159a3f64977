package io.pcache.core.plugin;

/** A provider that cannot be loaded or found; the message names the jar or the name asked for. */
public final class PluginException extends RuntimeException {

  public PluginException(String message) {
    super(message);
  }

  public PluginException(String message, Throwable cause) {
    super(message, cause);
  }
}
