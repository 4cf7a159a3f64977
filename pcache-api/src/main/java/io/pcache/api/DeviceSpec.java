package io.pcache.api;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * A device named the way users write it: {@code scheme:location}, for example
 * {@code file:/var/lib/pcache/cache.img}, {@code dax:/dev/dax0.0} or {@code block:/dev/sdb}; or a
 * bare path, for which the registry picks the provider that {@linkplain
 * io.pcache.api.media.MediaProvider#probe probes} best.
 *
 * @param scheme the provider name, empty for a bare path
 * @param location what follows the scheme: usually an absolute or relative path
 */
public record DeviceSpec(Optional<String> scheme, String location) {

  public DeviceSpec {
    Objects.requireNonNull(scheme, "scheme");
    Objects.requireNonNull(location, "location");
    if (location.isEmpty()) {
      throw new IllegalArgumentException("device spec has an empty location");
    }
  }

  /**
   * Parses {@code scheme:location} or a bare path. A scheme is lower-case letters, digits and
   * {@code -}, at least two characters long, so that nothing that looks like a path is misread.
   *
   * @throws IllegalArgumentException for an empty spec or an empty location
   */
  public static DeviceSpec parse(String spec) {
    Objects.requireNonNull(spec, "spec");
    String s = spec.strip();
    if (s.isEmpty()) {
      throw new IllegalArgumentException("empty device spec (expected scheme:path such as file:/var/lib/pcache/cache.img, or a path)");
    }
    int colon = s.indexOf(':');
    if (colon >= 2 && s.substring(0, colon).matches("[a-z][a-z0-9-]+")) {
      return new DeviceSpec(Optional.of(s.substring(0, colon)), s.substring(colon + 1));
    }
    return new DeviceSpec(Optional.empty(), s);
  }

  /** The location as a path. */
  public Path path() {
    return Path.of(location);
  }

  @Override
  public String toString() {
    return scheme.map(sc -> sc + ":" + location).orElse(location);
  }
}
