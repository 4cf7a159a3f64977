package io.pcache.media.dax;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.MediaProvider;
import io.pcache.media.dax.DaxFileSystems.State;
import io.pcache.media.dax.DaxFileSystems.Verdict;
import io.pcache.media.dax.Mounts.Mount;
import io.pcache.media.dax.Sysfs.DevDax;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The {@code dax} media provider: cache media on persistent memory, either a file on a file system
 * mounted with {@code -o dax} ({@code dax:/mnt/pmem/cache.img}, "fsdax") or a device-dax character
 * device ({@code dax:/dev/dax0.0}, "devdax"). The persistence domain is {@code DAX}: {@code
 * persist} writes CPU cache lines back and fences, with no system call. Anything that is not DAX
 * (tmpfs, a page-cache file system, a block device, a directory) is refused with the reason and,
 * where it fits, a pointer to {@code file:} media. See {@link DaxMedia} for the guarantees.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>No msync on persist (fsdax).</b> {@code FileChannel.map(ExtendedMapMode.READ_WRITE_SYNC,
 * ...)} maps with {@code MAP_SHARED_VALIDATE | MAP_SYNC} and records the mapping as "sync". {@code
 * MemorySegment.force()} of such a mapping (JDK 25 source: {@code MappedMemorySegmentImpl.force} →
 * {@code ScopedMemoryAccess.force} → {@code MappedMemoryUtils.force(fd, address, isSync, index,
 * length)}) takes the {@code isSync} branch, {@code Unsafe.writebackMemory(address + index,
 * length)}: {@code writebackPreSync0}, one {@code writeback0} per cache line, {@code
 * writebackPostSync0}, all HotSpot intrinsics (x86: pre-sync is nothing, each line one {@code
 * clwb}/{@code clflushopt}/{@code clflush}, post-sync one {@code sfence}); only the other branch
 * calls {@code force0}, which is {@code msync}. Observed in the VM harness ({@code
 * src/test/vm/dax-vm-test.sh}): {@code strace -f -c -e trace=msync,fsync,fdatasync,mmap} over
 * 2,000 write+persist of 4 KiB on a DAX file counts 0 msync, 0 fsync, 0 fdatasync (and hundreds of
 * mmap, so the trace saw the JVM), while the same loop with {@code force()} of a plain {@code
 * READ_WRITE} mapping counts 2,000 msync; devdax persists count 0 as well. A DAX file is written
 * with {@code fsync} once, at creation (preallocation).
 *
 * <p><b>devdax and the JDK.</b> {@code FileChannel.map} of {@code /dev/dax0.0} fails with {@code
 * IOException: Invalid argument} in both modes: {@code size()} is 0 for a character device, so the
 * JDK calls {@code ftruncate} first (strace shows {@code ftruncate(fd, 2097152) = -1 EINVAL}).
 * Hence {@link DevDaxOpener} maps through {@link Posix} and persists through {@link CacheLines}.
 *
 * <p><b>Measured</b> in the VM harness: qemu TCG, one emulated CPU thread, Debian 6.1 guest, the
 * host's Temurin 25; fsdax on {@code --pmem 1G} (RAM-backed, ext4 {@code -o dax}), devdax on a
 * 128 MiB {@code --nvdimm} namespace (124 MiB device, 2 MiB alignment); one thread, random
 * 4 KiB-aligned offsets, 2,000 samples after 2,000 of warm-up (three devdax runs agreed on the
 * medians within 10%). TCG emulates every instruction and makes cache-line write-back free, so
 * these numbers show behaviour (persist costs about what a 4 KiB copy costs, no system call), not
 * performance:
 *
 * <table>
 *   <caption>Cost per operation in the TCG guest (median, p99)</caption>
 *   <tr><th>operation</th><th>fsdax file</th><th>devdax device</th></tr>
 *   <tr><td>write 4 KiB</td><td>5.4 us, 247 us</td><td>5.5 us, 19 us</td></tr>
 *   <tr><td>persist of the 4 KiB just written</td><td>3.5 us, 48 us</td><td>3.6 us, 15 us</td></tr>
 *   <tr><td>persist of a clean 4 KiB</td><td>3.1 us, 25 us</td><td>3.2 us, 6.9 us</td></tr>
 *   <tr><td>persist of zero length (a fence)</td><td>1.9 us, 5.2 us</td><td>1.9 us, 3.2 us</td></tr>
 *   <tr><td>read 4 KiB</td><td>4.7 us, 30 us</td><td>4.5 us, 20 us</td></tr>
 *   <tr><td>persist of the whole media</td><td>5.7 ms (32 MiB)</td><td>5-19 ms (124 MiB)</td></tr>
 *   <tr><td>create, preallocate (write zeros, one fsync) and map</td><td>46 ms (24 MiB)</td>
 *       <td>-</td></tr>
 * </table>
 *
 * <p>On the build machine (KVM guest on AMD EPYC, DRAM, no DAX), {@link CacheLines} with {@code
 * clwb} writes back a dirty 4 KiB in about 2.6 us and 1 MiB in about 22 us; on real persistent
 * memory a write-back costs what the media's write bandwidth allows. {@code pcache run} with dax:
 * media starts in 17-27 s in the guest (formatting a new 512 MiB cache included).
 *
 * <p><b>Probe.</b> {@code /dev/daxX.Y} (existing or not, so that a missing device gets this
 * provider's message) and a file on an {@code -o dax} mount score {@value #DAX_FIT}, above the
 * {@code file} provider's 10; a file on {@code dax=inode} mounts only when {@code statx} reports
 * {@code STATX_ATTR_DAX}; everything else 0.
 */
public final class DaxMediaProvider implements MediaProvider {

  /** The fit of a DAX location: above the file provider's 10. */
  static final int DAX_FIT = 20;

  private static final Pattern DEVDAX_NAME = Pattern.compile("dax\\d+\\.\\d+");

  private final Supplier<Mounts> mounts;
  private final Sysfs sysfs;

  /** Public no-argument constructor for {@link java.util.ServiceLoader}; touches nothing. */
  public DaxMediaProvider() {
    this(Mounts::current, Sysfs.LIVE);
  }

  /** For tests: a given mount table and sysfs tree. */
  DaxMediaProvider(Supplier<Mounts> mounts, Sysfs sysfs) {
    this.mounts = mounts;
    this.sysfs = sysfs;
  }

  @Override
  public String name() {
    return "dax";
  }

  @Override
  public String description() {
    return "Cache media on persistent memory: files on -o dax mounts (MAP_SYNC) and devdax devices;"
        + " persist = cache-line write-back, no system call";
  }

  /**
   * {@value #DAX_FIT} for {@code /dev/daxX.Y} (a device-dax instance, or such a name that does not
   * exist) and for a regular or creatable file on a DAX file system; 0 for anything else. Reads
   * the mount table, sysfs and at most one {@code statx}; opens nothing.
   */
  @Override
  public int probe(String location) {
    if (location == null || location.isBlank()) {
      return 0;
    }
    try {
      Path path = Path.of(location).toAbsolutePath().normalize();
      if (looksLikeDevDax(path) && !Files.exists(path)) {
        return DAX_FIT;
      }
      BasicFileAttributes attributes = attributesOrNull(path);
      if (attributes == null) {
        Path parent = path.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
          return 0;
        }
        return verdict(FsDaxOpener.realLocation(path)).state() == State.ALWAYS ? DAX_FIT : 0;
      }
      if (attributes.isRegularFile()) {
        Verdict verdict = verdict(path.toRealPath());
        if (verdict.state() == State.ALWAYS) {
          return DAX_FIT;
        }
        if (verdict.state() == State.PER_FILE) {
          FileStat stat = FileStat.ofPath(path.toString());
          return stat != null && stat.daxReported() && stat.dax() ? DAX_FIT : 0;
        }
        return 0;
      }
      if (attributes.isOther() && isCharDevice(path)) {
        return sysfs.devDax(Sysfs.majorMinor(rdev(path))).isPresent() ? DAX_FIT : 0;
      }
      return 0;
    } catch (IOException | InvalidPathException | SecurityException | UnsupportedOperationException
        | ClassCastException e) {
      return 0;
    }
  }

  /**
   * Which DAX modes this machine supports, for {@code pcache plugins}: fsdax (which mounts), devdax
   * (which devices), the write-back instruction, and what is missing where one is not available.
   */
  @Override
  public List<String> capabilities() {
    List<String> lines = new ArrayList<>();
    Mounts table = mounts.get();
    List<Mount> dax = table.daxMounts();
    if (!dax.isEmpty()) {
      lines.add("fsdax (MAP_SYNC): yes, on " + dax.stream()
          .map(m -> m.mountPoint() + " (" + m.fsType() + " on " + m.source() + ")")
          .collect(Collectors.joining(", ")));
    } else {
      List<String> perFile = table.entries().stream()
          .filter(m -> DaxFileSystems.of(m, sysfs).state() == State.PER_FILE)
          .map(m -> m.mountPoint() + " (" + m.fsType() + " on " + m.source() + ")")
          .toList();
      lines.add(perFile.isEmpty()
          ? "fsdax (MAP_SYNC): no: no file system is mounted with -o dax (/proc/self/mountinfo); mount one on"
              + " persistent memory: mkfs.ext4 /dev/pmem0 && mount -o dax /dev/pmem0 /mnt/pmem"
          : "fsdax (MAP_SYNC): only for files with the DAX flag (dax=inode) on " + String.join(", ", perFile)
              + "; mount with -o dax for every file");
    }
    List<DevDax> devices = sysfs.devDaxDevices();
    if (devices.isEmpty()) {
      lines.add("devdax: no: " + DevDaxOpener.available(sysfs));
    } else if (!CacheLines.available()) {
      lines.add("devdax: no: " + devices.size() + " device(s), but " + CacheLines.unavailableReason());
    } else {
      lines.add("devdax: yes, " + devices.stream()
          .map(d -> "/dev/" + d.name() + " (" + d.size() + " bytes, align " + d.align()
              + (d.bound() ? "" : ", disabled: modprobe device_dax") + ")")
          .collect(Collectors.joining(", ")));
    }
    lines.add("persist: cache-line write-back + sfence, no system call (fsdax: MemorySegment.force() of a"
        + " MAP_SYNC mapping; devdax: "
        + (CacheLines.available() ? CacheLines.instruction() : "unavailable") + ")");
    lines.add("refused with a reason: tmpfs, page-cache files, block devices, directories (use file: media)");
    return lines;
  }

  /**
   * Opens the DAX file or device at {@code location}: a character device goes to {@link
   * DevDaxOpener}, a regular or missing file to {@link FsDaxOpener}, anything else is refused
   * here.
   */
  @Override
  public CacheMedia open(String location, MediaOptions options) throws IOException {
    String name = "dax:" + location;
    if (location == null || location.isBlank()) {
      throw new IOException("cache media " + name + " has no path; give one, e.g. dax:/mnt/pmem/cache.img (a"
          + " file on a file system mounted with -o dax) or dax:/dev/dax0.0 (a devdax device)");
    }
    Path path;
    try {
      path = Path.of(location).toAbsolutePath();
    } catch (InvalidPathException e) {
      throw new IOException("cache media " + name + " is not a valid path: " + e.getMessage(), e);
    }
    BasicFileAttributes attributes = attributesOrNull(path);
    if (attributes == null) {
      if (looksLikeDevDax(path.normalize())) {
        return DevDaxOpener.open(name, path, null, options, sysfs);
      }
      return FsDaxOpener.open(name, path, null, options, mounts.get(), sysfs);
    }
    if (attributes.isRegularFile()) {
      return FsDaxOpener.open(name, path, attributes, options, mounts.get(), sysfs);
    }
    if (attributes.isDirectory()) {
      Verdict verdict = verdict(path.toRealPath());
      String note = verdict.state() == State.NONE
          ? " (but note: " + path + " is on " + verdict.why() + ")"
          : "";
      throw new IOException("cache media " + name + " is a directory (" + path + "); give the path of a file in"
          + " it, e.g. dax:" + path.resolve("cache.img") + note);
    }
    if (isCharDevice(path)) {
      return DevDaxOpener.open(name, path, attributes, options, sysfs);
    }
    if (isBlockDevice(path)) {
      throw blockDevice(name, path);
    }
    throw new IOException("cache media " + name + " is neither a file nor a device (" + path + " is a FIFO or"
        + " socket); DAX media is a file on a file system mounted with -o dax or a devdax device /dev/daxX.Y");
  }

  private IOException blockDevice(String name, Path path) throws IOException {
    String majMin = Sysfs.majorMinor(rdev(path));
    String device = sysfs.blockDeviceName(majMin);
    boolean canDax = sysfs.blockDeviceDax(majMin).orElse(false);
    if (canDax) {
      return new IOException("cache media " + name + " is a block device (" + device + ") that can do DAX, but DAX"
          + " media is a file on it or a devdax device: put a file system on it and mount it with -o dax"
          + " (mkfs.ext4 " + path + " && mount -o dax " + path + " /mnt/pmem), then use dax:/mnt/pmem/cache.img;"
          + " or turn its namespace into a devdax device (ndctl create-namespace -f -e <namespace> -m devdax)"
          + " and use dax:/dev/daxX.Y");
    }
    return new IOException("cache media " + name + " is a block device without DAX (" + device + ": "
        + sysfs.blockDeviceDaxPath(majMin) + " is not 1), not persistent memory; put the cache on a file of a"
        + " file system instead: file:/var/lib/pcache/cache.img (page-cache media: persist = msync)");
  }

  private Verdict verdict(Path realPath) {
    return DaxFileSystems.of(mounts.get().find(realPath).orElse(null), sysfs);
  }

  private static boolean looksLikeDevDax(Path path) {
    Path parent = path.getParent();
    return parent != null && parent.equals(Path.of("/dev")) && path.getFileName() != null
        && DEVDAX_NAME.matcher(path.getFileName().toString()).matches();
  }

  private static BasicFileAttributes attributesOrNull(Path path) throws IOException {
    try {
      return Files.readAttributes(path, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  private static int mode(Path path) throws IOException {
    return (Integer) Files.getAttribute(path, "unix:mode");
  }

  private static boolean isCharDevice(Path path) throws IOException {
    return (mode(path) & FileStat.S_IFMT) == FileStat.S_IFCHR;
  }

  private static boolean isBlockDevice(Path path) throws IOException {
    return (mode(path) & FileStat.S_IFMT) == 0060000;
  }

  private static long rdev(Path path) throws IOException {
    return ((Number) Files.getAttribute(path, "unix:rdev")).longValue();
  }
}
