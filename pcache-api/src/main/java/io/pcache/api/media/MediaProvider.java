package io.pcache.api.media;

import io.pcache.api.Provider;
import java.io.IOException;
import java.util.List;

/**
 * Opens {@link CacheMedia} for a scheme ({@code file:}, {@code dax:} and so on). Found through
 * {@link java.util.ServiceLoader}; declare it with {@code provides io.pcache.api.media.MediaProvider
 * with ...} in the plugin's module-info.
 */
public interface MediaProvider extends Provider {

  /**
   * How well this provider fits a bare location (no scheme), so that {@code /dev/dax0.0} picks DAX
   * and {@code /var/lib/pcache/cache.img} picks a plain file: 0 means "cannot open it", higher is
   * better. Must be cheap and must not change anything. The default is 0.
   */
  default int probe(String location) {
    return 0;
  }

  /**
   * What this provider can do on this machine, for {@code pcache plugins}: for example
   * {@code fsdax (MAP_SYNC): yes, devdax: no}. Empty when there is nothing to say.
   */
  default List<String> capabilities() {
    return List.of();
  }

  /**
   * Opens (or creates) the media at {@code location}.
   *
   * @param location what followed the scheme in the device spec, usually a path
   * @throws IOException when the media cannot be opened; the message says which media and why
   *     (not found, wrong kind, locked by another pcache process, too small, ...) and, where it
   *     helps, what to do
   */
  CacheMedia open(String location, MediaOptions options) throws IOException;
}
