package io.pcache.api;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The effective configuration, as a provider sees it: every key already checked against its
 * {@link ConfigKey} (type, range, choices), defaults filled in.
 *
 * <p>Getters take the key's name. Asking for a key that nobody declared, or with a getter that
 * does not fit the key's type, is a programming error and throws {@link IllegalArgumentException}.
 * A value that does not parse never reaches a provider: the configuration is validated as a whole
 * before any provider is asked to create anything.
 *
 * <p>Implementations are immutable and thread-safe.
 */
public interface Config {

  /**
   * The value as text, after interpolation. An optional {@link ConfigKey.Type#STRING} or {@link
   * ConfigKey.Type#PATH} key whose default is the empty string reads as {@code ""} when not set.
   */
  String get(String key);

  /** An {@link ConfigKey.Type#INT} value. */
  int getInt(String key);

  /** A {@link ConfigKey.Type#SIZE} value in bytes. */
  long getSize(String key);

  /** A {@link ConfigKey.Type#DURATION} value. */
  Duration getDuration(String key);

  /** A {@link ConfigKey.Type#BOOLEAN} value. */
  boolean getBoolean(String key);

  /**
   * A {@link ConfigKey.Type#PATH} value, resolved against the installation's home directory.
   *
   * @throws IllegalArgumentException when the key is optional and not set (check {@link #get} first)
   */
  Path getPath(String key);

  /** A {@link ConfigKey.Type#DEVICE} value. */
  DeviceSpec getDevice(String key);

  /** Where a key's value came from, for messages: {@code default}, a file name, {@code env PCACHE_X}, {@code flag --x}. */
  String sourceOf(String key);
}
