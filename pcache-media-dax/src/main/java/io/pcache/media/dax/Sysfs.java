package io.pcache.media.dax;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What sysfs says about block devices (can they do DAX) and device-dax character devices (size,
 * alignment). Rooted at a directory so that tests can give a fake tree; {@link #LIVE} is {@code
 * /sys}.
 *
 * <p>Attributes read: {@code /sys/dev/block/MAJ:MIN/queue/dax} (1 when the disk supports DAX; a
 * partition's is its disk's), {@code /sys/dev/char/MAJ:MIN/subsystem} (a link to {@code .../dax}
 * for a device-dax instance), and that instance's {@code size} and {@code align} (Linux 5.10 and
 * later; the region's alignment before that).
 */
final class Sysfs {

  /** The live tree. */
  static final Sysfs LIVE = new Sysfs(Path.of("/sys"));

  /** The default alignment of a device-dax instance when sysfs does not say: 2 MiB (PMD). */
  static final long DEFAULT_DEVDAX_ALIGN = 2L << 20;

  private final Path root;

  Sysfs(Path root) {
    this.root = root;
  }

  /**
   * A device-dax instance.
   *
   * @param name its kernel name, {@code dax0.0}
   * @param dir its sysfs directory
   * @param size its size in bytes
   * @param align the alignment every mapping must have (address, offset and length)
   * @param alignReported whether {@code align} was read from sysfs rather than assumed
   * @param bound whether a driver is bound to it ({@code driver} link; {@code device_dax} makes
   *     it usable; an unbound instance fails {@code open} with ENXIO)
   */
  record DevDax(String name, Path dir, long size, long align, boolean alignReported, boolean bound) {}

  /** {@code major:minor} of a {@code dev_t} as {@code stat} reports it (glibc's encoding). */
  static String majorMinor(long rdev) {
    long major = ((rdev >>> 8) & 0xfffL) | ((rdev >>> 32) & 0xfffff000L);
    long minor = (rdev & 0xffL) | ((rdev >>> 12) & 0xffffff00L);
    return major + ":" + minor;
  }

  /**
   * Whether the block device {@code majMin} supports DAX ({@code queue/dax}), or empty when sysfs
   * does not say (no such device, not a block device).
   */
  Optional<Boolean> blockDeviceDax(String majMin) {
    Path dev = root.resolve("dev/block").resolve(majMin);
    for (Path queue : List.of(dev.resolve("queue/dax"), dev.resolve("../queue/dax"))) {
      Optional<String> value = read(queue);
      if (value.isPresent()) {
        return Optional.of(value.get().equals("1"));
      }
    }
    return Optional.empty();
  }

  /** The kernel name of block device {@code majMin} ({@code pmem0}, {@code vda1}), or {@code majMin}. */
  String blockDeviceName(String majMin) {
    try {
      return root.resolve("dev/block").resolve(majMin).toRealPath().getFileName().toString();
    } catch (IOException | RuntimeException e) {
      return majMin;
    }
  }

  /** The sysfs path of {@code queue/dax} of block device {@code majMin}, for messages. */
  String blockDeviceDaxPath(String majMin) {
    return root.resolve("dev/block").resolve(majMin).resolve("queue/dax").toString();
  }

  /**
   * The device-dax instance behind character device {@code majMin}, or empty when it is not one
   * (its subsystem is not {@code dax}, or sysfs has no size for it).
   */
  Optional<DevDax> devDax(String majMin) {
    Path link = root.resolve("dev/char").resolve(majMin);
    try {
      Path dir = link.toRealPath();
      if (!subsystemOf(dir).equals("dax")) {
        return Optional.empty();
      }
      return devDaxAt(dir);
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** The subsystem of the character device {@code majMin} ({@code mem}, {@code dax}, ...), or "unknown". */
  String charDeviceSubsystem(String majMin) {
    try {
      return subsystemOf(root.resolve("dev/char").resolve(majMin).toRealPath());
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  /** Every device-dax instance, from {@code /sys/bus/dax/devices}; empty when there is none. */
  List<DevDax> devDaxDevices() {
    List<DevDax> found = new ArrayList<>();
    Path bus = root.resolve("bus/dax/devices");
    if (!Files.isDirectory(bus)) {
      return found;
    }
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(bus)) {
      for (Path d : dirs) {
        devDaxAt(d.toRealPath()).ifPresent(found::add);
      }
    } catch (IOException | RuntimeException e) {
      return found;
    }
    found.sort((a, b) -> a.name().compareTo(b.name()));
    return found;
  }

  private Optional<DevDax> devDaxAt(Path dir) {
    Optional<Long> size = read(dir.resolve("size")).flatMap(Sysfs::parseLong);
    if (size.isEmpty()) {
      return Optional.empty();
    }
    Optional<Long> align = read(dir.resolve("align")).flatMap(Sysfs::parseLong);
    return Optional.of(new DevDax(dir.getFileName().toString(), dir, size.get(),
        align.orElse(DEFAULT_DEVDAX_ALIGN), align.isPresent(), Files.exists(dir.resolve("driver"))));
  }

  private static String subsystemOf(Path dir) throws IOException {
    Path subsystem = dir.resolve("subsystem");
    if (!Files.exists(subsystem)) {
      return "unknown";
    }
    return subsystem.toRealPath().getFileName().toString();
  }

  private static Optional<Long> parseLong(String s) {
    try {
      return Optional.of(Long.decode(s));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** The first line of a sysfs attribute, stripped; read line-wise (sysfs sizes are not real). */
  static Optional<String> read(Path attribute) {
    try (BufferedReader r = Files.newBufferedReader(attribute, StandardCharsets.UTF_8)) {
      String line = r.readLine();
      return line == null ? Optional.empty() : Optional.of(line.strip());
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }
}
