package io.pcache.media.dax;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The mount table of this process, from {@code /proc/self/mountinfo} ({@code proc(5)}): which file
 * system a path is on, with which options. Pure parsing; the caller resolves the path.
 *
 * @param entries the mounts in the order the kernel lists them (a later mount on the same point
 *     hides an earlier one)
 */
record Mounts(List<Mount> entries) {

  /** The live table of this process. */
  static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

  /**
   * One line of mountinfo.
   *
   * @param device the {@code major:minor} of the file system's device ({@code 0:NN} for
   *     file systems without one)
   * @param mountPoint the mount point, unescaped
   * @param fsType the file system type ({@code ext4}, {@code tmpfs}, ...)
   * @param source the mount source ({@code /dev/pmem0}, {@code tmpfs}, ...)
   * @param options the per-mount options followed by the per-superblock options
   */
  record Mount(String device, String mountPoint, String fsType, String source, List<String> options) {

    /** Whether {@code option} (e.g. {@code dax}, {@code dax=always}) is among the options. */
    boolean has(String option) {
      return options.contains(option);
    }

    /** {@code ext4 (/dev/pmem0 at /mnt/pmem)}, for messages. */
    String describe() {
      return fsType + " (" + source + " at " + mountPoint + ")";
    }
  }

  /**
   * Reads the live table; an empty table when it cannot be read (not Linux, no /proc). Read
   * line-wise: {@code Files.readString} trusts the size {@code stat} reports, which is 0 for proc
   * files, and may stop early.
   */
  static Mounts current() {
    try (BufferedReader reader = Files.newBufferedReader(MOUNTINFO, StandardCharsets.UTF_8)) {
      StringBuilder text = new StringBuilder();
      for (String line = reader.readLine(); line != null; line = reader.readLine()) {
        text.append(line).append('\n');
      }
      return parse(text.toString());
    } catch (IOException | RuntimeException e) {
      return new Mounts(List.of());
    }
  }

  /** Parses mountinfo text; malformed lines are skipped. */
  static Mounts parse(String text) {
    List<Mount> entries = new ArrayList<>();
    for (String line : text.split("\n")) {
      String[] f = line.trim().split(" ");
      int dash = Arrays.asList(f).indexOf("-");
      if (dash < 6 || f.length < dash + 4) {
        continue;
      }
      List<String> options = new ArrayList<>(Arrays.asList(f[5].split(",")));
      options.addAll(Arrays.asList(f[dash + 3].split(",")));
      entries.add(new Mount(f[2], unescape(f[4]), unescape(f[dash + 1]), unescape(f[dash + 2]), List.copyOf(options)));
    }
    return new Mounts(List.copyOf(entries));
  }

  /**
   * The mount that holds {@code realPath} (an absolute path without symbolic links): the last
   * listed mount whose mount point is the longest prefix of it.
   */
  Optional<Mount> find(Path realPath) {
    Mount best = null;
    int bestLength = -1;
    for (Mount m : entries) {
      Path point = Path.of(m.mountPoint());
      if (realPath.startsWith(point) && point.getNameCount() >= bestLength) {
        best = m;
        bestLength = point.getNameCount();
      }
    }
    return Optional.ofNullable(best);
  }

  /** The mounts that are DAX for every file ({@code dax} or {@code dax=always}). */
  List<Mount> daxMounts() {
    return entries.stream().filter(m -> m.has("dax") || m.has("dax=always")).toList();
  }

  /** Undoes mountinfo's octal escapes ({@code \040} for a blank, {@code \011}, {@code \012}, {@code \134}). */
  static String unescape(String field) {
    if (field.indexOf('\\') < 0) {
      return field;
    }
    StringBuilder b = new StringBuilder(field.length());
    for (int i = 0; i < field.length(); i++) {
      char c = field.charAt(i);
      if (c == '\\' && isOctal(field, i + 1)) {
        b.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  private static boolean isOctal(String s, int from) {
    if (from + 3 > s.length()) {
      return false;
    }
    for (int i = from; i < from + 3; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '7') {
        return false;
      }
    }
    return true;
  }
}
