package io.pcache.backing.block;

import io.pcache.api.backing.BackingIdentity;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Works out the {@link BackingIdentity} of an opened block device or image file, once, while it is
 * opened. Never fails: what cannot be read is skipped, down to an identifier that is at least
 * unique while the machine runs.
 *
 * <h2>Image files: kind {@code file}</h2>
 *
 * {@code dev MAJ:MIN ino N}: the file system's device number and the inode ({@code statx} of the
 * open descriptor), so a file that is renamed or moved within its file system stays the same
 * device, and a copy is another one. The description is the canonical path ({@code
 * /proc/self/fd/N}). A file system whose device number changes between boots (a disk enumerated
 * in another order, some network and FUSE file systems) makes the same file look like another.
 *
 * <h2>Block devices: kind {@code block}</h2>
 *
 * The first of these, read under {@code /sys/dev/block/MAJ:MIN} ({@code st_rdev}):
 *
 * <ol>
 *   <li>{@code device/wwid} or {@code wwid} (SCSI and ATA disks, NVMe namespaces): {@code
 *       wwid:naa.5000c500a1b2c3d4};
 *   <li>{@code device/serial} or {@code serial} (virtio and others): {@code serial:XYZ};
 *   <li>{@code dm/uuid}, {@code md/uuid} (device-mapper, md RAID): {@code dm-uuid:...}, {@code
 *       md-uuid:...};
 *   <li>{@code loop/backing_file} (a loop device): the backing file's identity, {@code loop:dev
 *       259:2 ino 1311} (plus {@code offset N} when the loop device starts inside the file);
 * </ol>
 *
 * a partition ({@code partition} present) takes its disk's identifier with {@code -partN}
 * appended. Without one of these, a {@code /dev/disk/by-id} link that resolves to the device
 * ({@code wwn-} links first, then by name): {@code by-id:ata-ST4000DM004_Z1Z2-part2}. Without
 * that, {@code devnum:MAJ:MIN}, which holds only until the next reboot or re-plug. The description
 * is the device's canonical path ({@code /dev/sdb2}).
 */
final class DeviceIdentity {

  static final String KIND_FILE = "file";
  static final String KIND_BLOCK = "block";

  /** The system's sysfs and udev trees. */
  static final DeviceIdentity SYSTEM = new DeviceIdentity(Path.of("/sys/dev/block"), Path.of("/dev/disk/by-id"));

  /** Where to look, in order, for a disk's own identifier, and how to prefix it. */
  private static final String[][] STABLE_IDS = {
    {"device/wwid", "wwid:"}, {"wwid", "wwid:"}, {"device/serial", "serial:"}, {"serial", "serial:"},
    {"dm/uuid", "dm-uuid:"}, {"md/uuid", "md-uuid:"},
  };

  private final Path sysDevBlock;
  private final Path diskById;

  /**
   * @param sysDevBlock {@code /sys/dev/block} (a test passes a tree of its own)
   * @param diskById {@code /dev/disk/by-id}
   */
  DeviceIdentity(Path sysDevBlock, Path diskById) {
    this.sysDevBlock = sysDevBlock;
    this.diskById = diskById;
  }

  /** The identity of an image file open as {@code fd}, {@code stat} being of that descriptor. */
  static BackingIdentity ofFile(int fd, String path, FileStat stat, long size) {
    return new BackingIdentity(KIND_FILE, fileId(stat), size, canonical(fd, path));
  }

  private static String fileId(FileStat stat) {
    return "dev " + stat.dev() + " ino " + Long.toUnsignedString(stat.ino());
  }

  /** The identity of the block device {@code rdev}, opened as {@code path}. */
  BackingIdentity ofBlockDevice(FileStat.DevNum rdev, int fd, String path, long size) {
    String canonical = canonical(fd, path);
    return new BackingIdentity(KIND_BLOCK, blockId(rdev, canonical), size, canonical);
  }

  /** The identifier of block device {@code rdev} whose canonical path is {@code devPath}. */
  String blockId(FileStat.DevNum rdev, String devPath) {
    Path sys;
    try {
      sys = sysDevBlock.resolve(rdev.toString()).toRealPath();
    } catch (IOException | SecurityException e) {
      sys = null;
    }
    if (sys != null) {
      String partition = read(sys.resolve("partition"));
      String own = partition == null ? stableId(sys) : stableId(sys.getParent());
      if (own != null) {
        return partition == null ? own : own + "-part" + partition;
      }
    }
    String link = byIdLink(devPath);
    return link != null ? "by-id:" + link : "devnum:" + rdev;
  }

  private String stableId(Path dir) {
    if (dir == null) {
      return null;
    }
    for (String[] source : STABLE_IDS) {
      String value = read(dir.resolve(source[0]));
      if (value != null) {
        return source[1] + value;
      }
    }
    String backingFile = read(dir.resolve("loop/backing_file"));
    if (backingFile != null) {
      String offset = read(dir.resolve("loop/offset"));
      String at = offset == null || offset.equals("0") ? "" : " offset " + offset;
      try {
        return "loop:" + fileId(FileStat.ofPath(backingFile)) + at;
      } catch (ErrnoException | RuntimeException e) {
        return "loop:" + backingFile + at;
      }
    }
    return null;
  }

  /** The name of a {@code /dev/disk/by-id} link to {@code devPath}, {@code wwn-} links first. */
  private String byIdLink(String devPath) {
    List<String> names = new ArrayList<>();
    try (DirectoryStream<Path> links = Files.newDirectoryStream(diskById)) {
      for (Path link : links) {
        try {
          if (link.toRealPath().toString().equals(devPath)) {
            names.add(link.getFileName().toString());
          }
        } catch (IOException | SecurityException e) {
          // a dangling link: not ours
        }
      }
    } catch (IOException | SecurityException e) {
      return null;
    }
    return names.stream().min(Comparator.comparing((String n) -> !n.startsWith("wwn-")).thenComparing(n -> n))
        .map(DeviceIdentity::clean).orElse(null);
  }

  /** A sysfs attribute, trimmed and without control characters; null when absent or empty. */
  private static String read(Path file) {
    try {
      if (!Files.isRegularFile(file)) {
        return null;
      }
      String value = clean(new String(Files.readAllBytes(file), StandardCharsets.UTF_8));
      return value.isEmpty() ? null : value;
    } catch (IOException | SecurityException e) {
      return null;
    }
  }

  private static String clean(String s) {
    StringBuilder b = new StringBuilder(s.length());
    s.strip().codePoints().forEach(c -> b.appendCodePoint(Character.isISOControl(c) ? ' ' : c));
    String value = b.toString().replaceAll(" {2,}", " ");
    int max = BackingIdentity.ID_MAX_BYTES / 4; // any UTF-8 code point fits in 4 bytes
    return value.length() > max ? value.substring(0, max) : value;
  }

  /** What the descriptor is open on ({@code /proc/self/fd/N}), else the real path, else as given. */
  private static String canonical(int fd, String path) {
    try {
      String target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
      if (target.startsWith("/")) {
        return target;
      }
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      // fall through
    }
    try {
      return Path.of(path).toRealPath().toString();
    } catch (IOException | SecurityException e) {
      return Path.of(path).toAbsolutePath().normalize().toString();
    }
  }
}
