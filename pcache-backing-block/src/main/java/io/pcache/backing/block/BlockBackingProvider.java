package io.pcache.backing.block;

import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingOptions;
import io.pcache.api.backing.BackingProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * The {@code block} backing provider (alias {@code file}): Linux block devices and regular image
 * files, opened with an exclusive claim. See {@link DeviceOpener} for how a device is opened and
 * {@link BlockBackingDevice} for how requests run.
 *
 * <p>Locations are paths, optionally with the scheme: {@code /dev/sdb}, {@code block:/dev/sdb},
 * {@code file:/var/lib/pcache/disk.img}. The device's {@link BackingDevice#name() name} is the
 * path with the scheme given, or {@code block:} when none was.
 */
public final class BlockBackingProvider implements BackingProvider {

  /** Probe score of a block device. */
  static final int PROBE_BLOCK_DEVICE = 10;
  /** Probe score of a regular file, or of a file that could be created in an existing directory. */
  static final int PROBE_FILE = 5;

  /** For {@link java.util.ServiceLoader}. */
  public BlockBackingProvider() {}

  @Override
  public String name() {
    return "block";
  }

  @Override
  public List<String> aliases() {
    return List.of("file");
  }

  @Override
  public String description() {
    return "Linux block devices and image files: pread/pwrite with O_EXCL and flock claims, optional O_DIRECT, discard, write-zeroes";
  }

  /**
   * 10 for a block device, 5 for a regular file or a file that does not exist yet in an existing
   * directory, 0 for anything else (and on systems other than Linux). Reads attributes only.
   */
  @Override
  public int probe(String location) {
    if (location == null || location.isEmpty() || !System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")) {
      return 0;
    }
    try {
      Path path = Path.of(location);
      if (Files.exists(path)) {
        int mode = (Integer) Files.getAttribute(path, "unix:mode");
        return FileStat.isBlockDeviceMode(mode) ? PROBE_BLOCK_DEVICE : FileStat.isRegularFileMode(mode) ? PROBE_FILE : 0;
      }
      Path parent = path.toAbsolutePath().getParent();
      return parent != null && Files.isDirectory(parent) ? PROBE_FILE : 0;
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException | ClassCastException | SecurityException e) {
      return 0;
    }
  }

  /**
   * Opens a block device or image file; see {@link DeviceOpener} for the steps and their errors.
   *
   * @throws java.nio.file.NoSuchFileException when it does not exist and no create size is given
   * @throws IOException when it cannot be opened: in use ("is in use by another pcache process",
   *     "is in use (mounted or claimed by another program)"), no permission, direct I/O refused,
   *     size 0, not a block device or regular file
   */
  @Override
  public BackingDevice open(String location, BackingOptions options) throws IOException {
    Objects.requireNonNull(location, "location");
    Objects.requireNonNull(options, "options");
    String scheme = "block";
    String path = location;
    for (String s : List.of("block", "file")) {
      if (location.startsWith(s + ":")) {
        scheme = s;
        path = location.substring(s.length() + 1);
      }
    }
    String name = scheme + ":" + path;
    if (path.isEmpty() || path.indexOf('\0') >= 0) {
      throw new IOException("cannot open backing device " + name + ": not a path");
    }
    return DeviceOpener.open(name, path, options);
  }
}
