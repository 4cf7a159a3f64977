package io.pcache.media.dax;

import io.pcache.api.media.MediaOptions;
import io.pcache.media.dax.Sysfs.DevDax;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Opens a device-dax character device ({@code /dev/daxX.Y}) as {@link DaxMedia}: no file system,
 * the whole device mapped with {@code mmap(MAP_SHARED)} at the device's alignment.
 *
 * <ul>
 *   <li><b>Size and alignment</b> come from sysfs ({@code /sys/dev/char/MAJ:MIN} → the instance's
 *       {@code size} and {@code align}); a device cannot be resized, so a configured size that
 *       differs is refused, naming the device's size. The mapping is the whole device from offset
 *       0: the length is a multiple of the alignment, and the address is aligned to it (placed in
 *       an aligned reservation, see {@link #mapAligned}); device-dax refuses faults on a
 *       misaligned mapping.
 *   <li><b>Why not {@code FileChannel.map}</b>: {@code fstat} reports a character device's size as
 *       0, so the JDK tries to {@code ftruncate} it to the mapping size, which fails with EINVAL.
 *       The mapping is made through {@link Posix} and tied to a shared {@link Arena} ({@code
 *       munmap} when the arena closes).
 *   <li><b>Exclusive use</b>: {@code flock(LOCK_EX|LOCK_NB)} ({@code LOCK_SH} read-only) on the
 *       descriptor, held until close; plus the in-JVM claim of {@link HeldFiles}.
 *   <li><b>Persist</b>: {@link CacheLines} (the JDK's write-back is reachable only through
 *       {@code FileChannel} mappings); a machine where it cannot be set up refuses writable
 *       devdax media with the reason.
 * </ul>
 */
final class DevDaxOpener {

  /** The smallest media: one page. */
  static final long MIN_SIZE = 4096;

  private static final Object OPENS = new Object();

  private DevDaxOpener() {}

  /**
   * Opens the device-dax instance at {@code path}.
   *
   * @param attributes the attributes of {@code path} (a character device), or {@code null} when it
   *     does not exist
   */
  static DaxMedia open(String name, Path path, BasicFileAttributes attributes, MediaOptions options, Sysfs sysfs)
      throws IOException {
    if (attributes == null) {
      throw new IOException("cache media " + name + " does not exist (" + path + "); " + available(sysfs));
    }
    String majMin = Sysfs.majorMinor(rdev(path));
    Optional<DevDax> found = sysfs.devDax(majMin);
    if (found.isEmpty()) {
      throw new IOException("cache media " + name + " is a character device but not a device-dax instance ("
          + path + " is " + majMin + ", of subsystem " + sysfs.charDeviceSubsystem(majMin) + "); DAX media is a"
          + " devdax device /dev/daxX.Y or a file on a file system mounted with -o dax; " + available(sysfs));
    }
    DevDax dev = found.get();
    if (!dev.bound()) {
      throw new IOException("cache media " + name + " (devdax " + dev.name() + ") is not enabled: no driver is bound"
          + " to it (" + dev.dir().resolve("driver") + " is missing), so it cannot be opened (ENXIO); load the"
          + " driver with `modprobe device_dax`, or `daxctl enable-device " + dev.name() + "`");
    }
    boolean readOnly = options.readOnly();
    Posix.checkAvailable(name, "a devdax device (" + dev.name() + ")");
    if (!readOnly && !CacheLines.available()) {
      throw new IOException("cache media " + name + " (devdax " + dev.name() + ") cannot be persisted from this"
          + " JVM: " + CacheLines.unavailableReason() + "; use a file on an fsdax mount instead (dax:/mnt/pmem/"
          + "cache.img on a file system mounted with -o dax), whose cache lines the JDK writes back");
    }
    long size = dev.size();
    long wanted = options.createSize();
    if (wanted != 0 && wanted != size) {
      throw new IOException("cache media " + name + " is a devdax device of " + size + " bytes (" + dev.name()
          + ") but the configuration asks for " + wanted + " bytes; a device's size is fixed: set the cache size"
          + " to " + size);
    }
    if (size < MIN_SIZE || size % dev.align() != 0) {
      throw new IOException("cache media " + name + " is a devdax device of " + size + " bytes with alignment "
          + dev.align() + " (" + dev.dir() + "): "
          + (size < MIN_SIZE ? "smaller than one page" : "its size is not a multiple of its alignment")
          + "; it cannot be mapped whole");
    }
    synchronized (OPENS) {
      return map(name, path, attributes, dev, readOnly);
    }
  }

  @SuppressWarnings("restricted") // reinterpret: the mapping of the device, tied to the arena
  private static DaxMedia map(String name, Path path, BasicFileAttributes attributes, DevDax dev, boolean readOnly)
      throws IOException {
    Object key = HeldFiles.keyOf(path, attributes);
    if (!HeldFiles.claim(key)) {
      throw inUse(name, path, "by an earlier open in this process");
    }
    int fd = -1;
    long address = -1;
    long size = dev.size();
    boolean opened = false;
    try {
      fd = Posix.open(path.toString(), (readOnly ? Posix.O_RDONLY : Posix.O_RDWR) | Posix.O_CLOEXEC);
      if (fd < 0) {
        throw new IOException("cannot open cache media " + name + " (" + path + ") for "
            + (readOnly ? "reading" : "reading and writing") + ": " + Posix.describe(-fd)
            + (-fd == Posix.EACCES ? "; run as root or give this user access to " + path : ""));
      }
      int r = Posix.flock(fd, (readOnly ? Posix.LOCK_SH : Posix.LOCK_EX) | Posix.LOCK_NB);
      if (r == -Posix.EAGAIN) {
        throw inUse(name, path, "by another pcache process");
      }
      if (r < 0) {
        throw new IOException("cannot lock cache media " + name + " (" + path + "): " + Posix.describe(-r));
      }
      int prot = Posix.PROT_READ | (readOnly ? 0 : Posix.PROT_WRITE);
      address = mapAligned(name, dev, fd, prot);
      Arena arena = Arena.ofShared();
      long mapped = address;
      MemorySegment segment = MemorySegment.ofAddress(address).reinterpret(size, arena, s -> Posix.munmap(mapped, size));
      address = -1; // the arena owns it now
      int openFd = fd;
      fd = -1;
      String where = path + " (" + dev.name() + ", " + size + " bytes, align " + dev.align() + ")";
      opened = true;
      return new DaxMedia(name, where, DaxMedia.Kind.DEVDAX, arena, segment, readOnly, () -> {
        try {
          int c = Posix.close(openFd); // also drops the flock
          if (c < 0) {
            throw new IOException("closing cache media " + name + " (" + path + "): " + Posix.describe(-c));
          }
        } finally {
          HeldFiles.release(key);
        }
      });
    } finally {
      if (address >= 0) {
        Posix.munmap(address, size);
      }
      if (fd >= 0) {
        Posix.close(fd);
      }
      if (!opened) {
        HeldFiles.release(key);
      }
    }
  }

  /**
   * Maps the whole device at an address aligned to its alignment: a {@code PROT_NONE} reservation
   * of {@code size + align} bytes, the device mapped {@code MAP_FIXED} over its aligned part, and
   * the slack on both sides given back. (Device-dax's own {@code get_unmapped_area} aligns a plain
   * {@code mmap} already; the reservation makes it so on any kernel and for any stand-in.)
   */
  private static long mapAligned(String name, DevDax dev, int fd, int prot) throws IOException {
    long size = dev.size();
    long align = dev.align();
    long reserved = Posix.mmap(0, size + align, 0, Posix.MAP_PRIVATE | Posix.MAP_ANONYMOUS | Posix.MAP_NORESERVE,
        -1, 0);
    if (reserved < 0) {
      throw mapFailed(name, dev, (int) -reserved, "reserving address space");
    }
    long aligned = (reserved + align - 1) & -align;
    long mapped = Posix.mmap(aligned, size, prot, Posix.MAP_SHARED | Posix.MAP_FIXED, fd, 0);
    if (mapped < 0) {
      Posix.munmap(reserved, size + align);
      throw mapFailed(name, dev, (int) -mapped, "mmap(MAP_SHARED)");
    }
    if (aligned > reserved) {
      Posix.munmap(reserved, aligned - reserved);
    }
    long tail = reserved + size + align - (aligned + size);
    if (tail > 0) {
      Posix.munmap(aligned + size, tail);
    }
    return mapped;
  }

  private static IOException mapFailed(String name, DevDax dev, int errno, String step) {
    return new IOException("cannot map cache media " + name + " (" + dev.size() + " bytes of devdax " + dev.name()
        + ", alignment " + dev.align() + "): " + step + ": " + Posix.describe(errno)
        + (errno == Posix.ENOMEM ? "; the mapping needs " + dev.size() + " bytes of virtual address space: check"
            + " `ulimit -v` and /proc/sys/vm/max_map_count" : ""));
  }

  private static long rdev(Path path) throws IOException {
    Object rdev = Files.getAttribute(path, "unix:rdev");
    return ((Number) rdev).longValue();
  }

  /** "devdax devices here: /dev/dax0.0 (1073741824 bytes, align 2097152)", or how to make one. */
  static String available(Sysfs sysfs) {
    List<DevDax> devices = sysfs.devDaxDevices();
    if (devices.isEmpty()) {
      return "this machine has no devdax device (/sys/bus/dax/devices is empty or missing): `ndctl"
          + " create-namespace -m devdax` makes one from a persistent-memory region";
    }
    return "devdax devices here: " + devices.stream()
        .map(d -> "/dev/" + d.name() + " (" + d.size() + " bytes, align " + d.align()
            + (d.bound() ? "" : ", disabled: modprobe device_dax") + ")")
        .collect(Collectors.joining(", "));
  }

  private static IOException inUse(String name, Path path, String byWhom) {
    return new IOException("cache media " + name + " is in use " + byWhom + " (lock held on " + path + ")");
  }
}
