package io.pcache.media.dax;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A sysfs tree in a test directory, shaped as the kernel's: {@code dev/block/MAJ:MIN} and {@code
 * dev/char/MAJ:MIN} are links into {@code devices/...}, whose {@code subsystem} links name the
 * subsystem, a partition's directory sits inside its disk's, and {@code bus/dax/devices} links to
 * the device-dax instances.
 */
final class FakeSysfs {

  final Path root;

  FakeSysfs(Path root) {
    this.root = root;
  }

  Sysfs sysfs() {
    return new Sysfs(root);
  }

  /** A disk with {@code queue/dax}. */
  FakeSysfs disk(String majMin, String name, boolean dax) throws IOException {
    Path dir = Files.createDirectories(root.resolve("devices/virtual/block").resolve(name));
    Files.createDirectories(dir.resolve("queue"));
    Files.writeString(dir.resolve("queue/dax"), dax ? "1\n" : "0\n");
    link(root.resolve("dev/block").resolve(majMin), dir);
    return this;
  }

  /** A partition of {@code diskName} (no queue directory of its own). */
  FakeSysfs partition(String majMin, String diskName, String name) throws IOException {
    Path dir = Files.createDirectories(root.resolve("devices/virtual/block").resolve(diskName).resolve(name));
    link(root.resolve("dev/block").resolve(majMin), dir);
    return this;
  }

  /** A character device of subsystem {@code subsystem}. */
  FakeSysfs charDevice(String majMin, String name, String subsystem) throws IOException {
    Path dir = Files.createDirectories(root.resolve("devices/virtual").resolve(subsystem).resolve(name));
    Path sub = Files.createDirectories(root.resolve("class").resolve(subsystem));
    link(dir.resolve("subsystem"), sub);
    link(root.resolve("dev/char").resolve(majMin), dir);
    return this;
  }

  /** A device-dax instance behind character device {@code majMin}; {@code align} 0: no attribute. */
  FakeSysfs devDax(String majMin, String name, long size, long align) throws IOException {
    return devDax(majMin, name, size, align, true);
  }

  /** As above; {@code bound}: whether the device_dax driver is bound to it. */
  FakeSysfs devDax(String majMin, String name, long size, long align, boolean bound) throws IOException {
    Path dir = Files.createDirectories(root.resolve("devices/platform/ndbus0/region0").resolve(name).resolve(name));
    Path bus = Files.createDirectories(root.resolve("bus/dax"));
    link(dir.resolve("subsystem"), bus);
    if (bound) {
      link(dir.resolve("driver"), Files.createDirectories(bus.resolve("drivers/device_dax")));
    }
    Files.writeString(dir.resolve("size"), size + "\n");
    if (align != 0) {
      Files.writeString(dir.resolve("align"), align + "\n");
    }
    link(root.resolve("dev/char").resolve(majMin), dir);
    link(Files.createDirectories(root.resolve("bus/dax/devices")).resolve(name), dir);
    return this;
  }

  private static void link(Path link, Path target) throws IOException {
    Files.createDirectories(link.getParent());
    Files.createSymbolicLink(link, link.getParent().relativize(target));
  }
}
