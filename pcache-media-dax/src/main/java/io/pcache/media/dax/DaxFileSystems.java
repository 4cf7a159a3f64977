package io.pcache.media.dax;

import io.pcache.media.dax.Mounts.Mount;
import java.util.Optional;
import java.util.Set;

/**
 * Whether files of a mounted file system are DAX, from its type, its mount options and its
 * device, without touching any file: the cheap first check of {@link DaxMediaProvider#probe} and
 * of every open, so that a path on tmpfs or on a page-cache file system is refused before anything
 * is created.
 *
 * <p>The kernel rules (Documentation/filesystems/dax.rst): ext4 and xfs serve every file with DAX
 * when mounted with {@code -o dax} or {@code -o dax=always}, no file with {@code dax=never}, and
 * with {@code dax=inode} (the default when no option is given) only files carrying the DAX flag
 * ({@code FS_XFLAG_DAX}, inherited from the directory) - and all of that only on a device that can
 * do DAX ({@code /sys/dev/block/MAJ:MIN/queue/dax} is 1, such as {@code /dev/pmem0}). virtiofs
 * takes {@code -o dax} as well. Memory file systems (tmpfs) and the page cache have no DAX:
 * {@code mmap} with {@code MAP_SYNC} fails there with EOPNOTSUPP. The per-file case is settled by
 * the file's {@code STATX_ATTR_DAX} ({@link FileStat}) and, last, by the {@code MAP_SYNC} mapping
 * itself.
 */
final class DaxFileSystems {

  /** Memory file systems: nothing to write back, nothing that survives a reboot, no DAX. */
  static final Set<String> MEMORY_TYPES = Set.of("tmpfs", "ramfs", "hugetlbfs", "devtmpfs");

  /** File systems that can serve single files with DAX ({@code dax=inode}) on a DAX device. */
  static final Set<String> PER_FILE_TYPES = Set.of("ext4", "xfs", "ext2");

  private DaxFileSystems() {}

  /** How a file system stands with DAX. */
  enum State {
    /** Every file is DAX ({@code -o dax}, {@code dax=always}). */
    ALWAYS,
    /** Files flagged DAX are; others are not ({@code dax=inode} on a DAX-capable device). */
    PER_FILE,
    /** No file is. */
    NONE
  }

  /**
   * A verdict.
   *
   * @param state the state
   * @param mount the mount, or {@code null} when none was found
   * @param why for {@link State#NONE}: why not, phrased to follow "... is on" ({@code "tmpfs,
   *     which has no DAX: MAP_SYNC is not supported (EOPNOTSUPP)"}); otherwise a description
   * @param fix for {@link State#NONE}: what to do besides using {@code file:} media (may be empty)
   */
  record Verdict(State state, Mount mount, String why, String fix) {}

  /** The verdict for files on {@code mount} ({@code null}: not found in the mount table). */
  static Verdict of(Mount mount, Sysfs sysfs) {
    if (mount == null) {
      return new Verdict(State.NONE, null,
          "a file system this process cannot identify (no entry in /proc/self/mountinfo), so DAX"
              + " cannot be confirmed", "");
    }
    String type = mount.fsType();
    String notSupported = "MAP_SYNC is not supported (EOPNOTSUPP)";
    String daxMount = "put it on a file system of a persistent-memory device mounted with -o dax"
        + " (e.g. mkfs.ext4 /dev/pmem0 && mount -o dax /dev/pmem0 /mnt/pmem)";
    if (MEMORY_TYPES.contains(type)) {
      return new Verdict(State.NONE, mount, type + ", which has no DAX: " + notSupported, "");
    }
    if (mount.has("dax=never")) {
      return new Verdict(State.NONE, mount, mount.describe() + " mounted with dax=never: " + notSupported,
          "remount it with -o dax");
    }
    if (mount.has("dax") || mount.has("dax=always")) {
      return new Verdict(State.ALWAYS, mount, mount.describe() + " mounted with -o dax", "");
    }
    Optional<Boolean> deviceDax = sysfs.blockDeviceDax(mount.device());
    if (deviceDax.isEmpty()) {
      return new Verdict(State.NONE, mount, mount.describe() + ", which has no DAX: " + notSupported, daxMount);
    }
    String device = sysfs.blockDeviceName(mount.device());
    if (!deviceDax.get()) {
      return new Verdict(State.NONE, mount,
          mount.describe() + ", a page-cache file system: its device " + device + " cannot do DAX ("
              + sysfs.blockDeviceDaxPath(mount.device()) + " is 0), so " + notSupported,
          daxMount);
    }
    if (!PER_FILE_TYPES.contains(type)) {
      return new Verdict(State.NONE, mount,
          mount.describe() + ": " + type + " has no DAX support (its device " + device + " has), so "
              + notSupported,
          "use ext4 or xfs on " + device + ", mounted with -o dax");
    }
    return new Verdict(State.PER_FILE, mount,
        mount.describe() + " without -o dax (dax=inode: only files with the DAX flag are DAX)", "");
  }
}
