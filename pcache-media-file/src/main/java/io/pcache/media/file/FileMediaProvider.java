package io.pcache.media.file;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.MediaProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;

/**
 * The {@code file} media provider: cache media on a regular file of a disk-backed file system
 * (persisted with {@code msync}) or of tmpfs (volatile, for tests and emulated persistent memory).
 * See {@link FileMedia} for what each operation costs and guarantees.
 */
public final class FileMediaProvider implements MediaProvider {

  /** The fit of a location this provider can open (or create): a plain or not-yet-existing file. */
  static final int FILE_FIT = 10;

  /** Public no-argument constructor for {@link java.util.ServiceLoader}; touches nothing. */
  public FileMediaProvider() {}

  @Override
  public String name() {
    return "file";
  }

  @Override
  public String description() {
    return "Cache media on a regular or tmpfs file, memory-mapped with FFM (one 64-bit mapping)";
  }

  /**
   * {@value #FILE_FIT} for a regular file, or for a file that does not exist yet in an existing
   * directory (it can be created); 0 for anything else: directories, block and character devices
   * (a DAX device belongs to the {@code dax} provider), FIFOs, dangling links, invalid paths.
   * Looks at the file's attributes only; opens nothing.
   */
  @Override
  public int probe(String location) {
    if (location == null || location.isBlank()) {
      return 0;
    }
    try {
      Path path = Path.of(location);
      if (Files.isRegularFile(path)) {
        return FILE_FIT;
      }
      if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
        return 0;
      }
      Path parent = path.toAbsolutePath().getParent();
      return parent != null && Files.isDirectory(parent) ? FILE_FIT : 0;
    } catch (InvalidPathException | SecurityException e) {
      return 0;
    }
  }

  @Override
  public List<String> capabilities() {
    return List.of(
        "page-cache files (ext4, xfs, ...): PAGE_CACHE, persist = msync of the dirty pages of the range",
        "tmpfs/ramfs/hugetlbfs: VOLATILE, persist = ordering fence only (no system call)",
        "media larger than 2 GiB: yes, one 64-bit mapping; created sparse",
        "exclusive use: fcntl lock on the file (shared when opened read-only)");
  }

  /**
   * Opens the file at {@code location} as media, creating it (sparse) when it is missing or empty
   * and {@code options.createSize()} is not 0. See {@link FileMediaOpener} for every refusal.
   */
  @Override
  public CacheMedia open(String location, MediaOptions options) throws IOException {
    return FileMediaOpener.open(location, options);
  }
}
