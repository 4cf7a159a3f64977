package io.pcache.media.file;

import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.PersistenceDomain;
import java.io.BufferedReader;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Locale;
import java.util.Set;

/**
 * Opens a {@link FileMedia}: checks the file, claims it in this JVM ({@link HeldFiles}), locks it
 * against other processes, creates or checks its size, picks the persistence domain and maps it.
 * Every refusal is an {@link IOException} whose message starts with {@code cache media
 * file:<location>} and says what to do. On failure, everything taken so far is given back, and a
 * file this open created is deleted again.
 *
 * <p>Opens are serialized in the JVM (they are rare and cheap: mapping does not populate pages),
 * which makes claim, lock and registration one step for concurrent opens of the same file.
 */
final class FileMediaOpener {

  /** The smallest media: one page. Anything smaller cannot hold a dm-pcache superblock. */
  static final long MIN_SIZE = FileMedia.PAGE;

  private static final Object OPENS = new Object();

  private FileMediaOpener() {}

  static FileMedia open(String location, MediaOptions options) throws IOException {
    String name = "file:" + location;
    if (location == null || location.isBlank()) {
      throw new IOException(
          "cache media " + name + " has no path; give one, e.g. file:/var/lib/pcache/cache.img");
    }
    Path path;
    try {
      path = Path.of(location).toAbsolutePath();
    } catch (InvalidPathException e) {
      throw new IOException("cache media " + name + " is not a valid path: " + e.getMessage(), e);
    }
    synchronized (OPENS) {
      return new Attempt(name, path, options).open();
    }
  }

  /**
   * The persistence domain of a file on a file system of type {@code fileStoreType} (as {@link
   * java.nio.file.FileStore#type()} reports it, from {@code /proc/mounts}): memory-only file
   * systems are {@link PersistenceDomain#VOLATILE}, everything else {@link
   * PersistenceDomain#PAGE_CACHE}. (An overlay or FUSE file system over tmpfs is reported as
   * PAGE_CACHE, which overstates it; the type is all this driver can see.)
   */
  static PersistenceDomain domainOf(String fileStoreType) {
    return switch (fileStoreType.toLowerCase(Locale.ROOT)) {
      case "tmpfs", "ramfs", "hugetlbfs", "devtmpfs" -> PersistenceDomain.VOLATILE;
      default -> PersistenceDomain.PAGE_CACHE;
    };
  }

  /** One open: the resources it has taken so far, given back by {@link #undo} on failure. */
  private static final class Attempt {
    private final String name;
    private final Path path;
    private final MediaOptions options;
    private final boolean readOnly;
    private Object key;
    private FileChannel channel;
    private FileLock lock;
    private boolean createdFile;
    private boolean extendedEmptyFile;

    Attempt(String name, Path path, MediaOptions options) {
      this.name = name;
      this.path = path;
      this.options = options;
      this.readOnly = options.readOnly();
    }

    FileMedia open() throws IOException {
      try {
        BasicFileAttributes existing = attributesOrNull();
        if (existing == null) {
          checkCreatable();
        } else {
          checkKind(existing);
          claim(existing);
        }
        openChannel(existing == null);
        if (key == null) {
          claim(Files.readAttributes(path, BasicFileAttributes.class));
        }
        lock();
        boolean sizedNow = channel.size() == 0;
        long size = checkOrCreateSize();
        PersistenceDomain domain = domainOf(Files.getFileStore(path).type());
        Arena arena = Arena.ofShared();
        MemorySegment segment = map(arena, size);
        if (sizedNow && domain == PersistenceDomain.VOLATILE && !readOnly) {
          // A new file in memory: allocate its pages now (it is all zeroes, so writing zeroes
          // changes nothing) rather than on first touch, which costs a page allocation in the
          // middle of a cache write (about 8 µs per 4 KiB here). Disk-backed files stay sparse.
          segment.fill((byte) 0);
        }
        return new FileMedia(name, path, channel, lock, key, arena, segment, domain, readOnly);
      } catch (IOException | RuntimeException | Error e) {
        undo(e);
        throw e;
      }
    }

    private BasicFileAttributes attributesOrNull() throws IOException {
      try {
        return Files.readAttributes(path, BasicFileAttributes.class);
      } catch (NoSuchFileException e) {
        return null;
      }
    }

    private void checkCreatable() throws IOException {
      if (options.createSize() == 0) {
        throw new IOException(
            "cache media " + name + " does not exist (" + path + "); set the cache size to create"
                + " it, or check the path");
      }
      if (readOnly) {
        throw new IOException(
            "cache media " + name + " does not exist (" + path + "); a read-only open never"
                + " creates media");
      }
      Path parent = path.getParent();
      if (parent == null || !Files.isDirectory(parent)) {
        throw new IOException(
            "cache media " + name + " cannot be created: directory " + parent + " does not exist;"
                + " create it first");
      }
      if (options.createSize() < MIN_SIZE) {
        throw new IOException(
            "cache media " + name + " cannot be created with " + options.createSize() + " bytes:"
                + " that is smaller than one page (" + MIN_SIZE + " bytes); give a larger size");
      }
    }

    private void checkKind(BasicFileAttributes attributes) throws IOException {
      if (attributes.isDirectory()) {
        throw new IOException(
            "cache media " + name + " is a directory (" + path + "); give the path of a file in"
                + " it, e.g. " + path.resolve("cache.img"));
      }
      if (!attributes.isRegularFile()) {
        throw new IOException(
            "cache media " + name + " is not a regular file (" + path + " is a device, FIFO or"
                + " socket); the file media maps regular files only: use dax: for a DAX device");
      }
    }

    private void claim(BasicFileAttributes attributes) throws IOException {
      Object candidate = HeldFiles.keyOf(path, attributes);
      if (!HeldFiles.claim(candidate)) {
        throw inUse("by an earlier open in this process");
      }
      key = candidate;
    }

    private void openChannel(boolean create) throws IOException {
      Set<OpenOption> modes =
          readOnly
              ? Set.of(StandardOpenOption.READ)
              : create
                  ? Set.of(
                      StandardOpenOption.READ,
                      StandardOpenOption.WRITE,
                      StandardOpenOption.CREATE_NEW)
                  : Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE);
      try {
        channel = FileChannel.open(path, modes);
      } catch (AccessDeniedException e) {
        throw new IOException(
            "cache media " + name + ": permission denied opening " + path + " for "
                + (readOnly ? "reading" : "reading and writing"),
            e);
      } catch (java.nio.file.FileAlreadyExistsException e) {
        throw new IOException(
            "cache media " + name + " was created by someone else while this process was"
                + " creating it (" + path + "); try again",
            e);
      }
      createdFile = create;
    }

    private void lock() throws IOException {
      try {
        lock = channel.tryLock(0, Long.MAX_VALUE, readOnly);
      } catch (OverlappingFileLockException e) {
        // Another component of this JVM holds a lock on the file. Closing our channel (in undo)
        // drops that lock too (fcntl semantics, see HeldFiles): unavoidable, and said here.
        throw inUse("by another component of this process, which holds a lock on the file"
            + " (closing this attempt's channel may have released that lock)");
      }
      if (lock == null) {
        throw inUse("by another pcache process");
      }
    }

    private long checkOrCreateSize() throws IOException {
      long actual = channel.size();
      long wanted = options.createSize();
      if (actual == 0 && wanted > 0 && !readOnly) {
        if (wanted < MIN_SIZE) {
          throw new IOException(
              "cache media " + name + " cannot be created with " + wanted + " bytes: that is"
                  + " smaller than one page (" + MIN_SIZE + " bytes); give a larger size");
        }
        extendedEmptyFile = !createdFile;
        channel.write(ByteBuffer.allocate(1), wanted - 1); // sparse: one block at the end
        return wanted;
      }
      if (actual == 0) {
        throw new IOException(
            "cache media " + name + " is an empty file (" + path + "); set the cache size to"
                + " create the media in it, or check the path");
      }
      if (wanted != 0 && actual != wanted) {
        throw new IOException(
            "cache media " + name + " is " + actual + " bytes but the configuration asks for "
                + wanted + " bytes; existing media is never resized: set the size to " + actual
                + ", or remove " + path + " to create it anew with " + wanted + " bytes (its cached"
                + " data is lost; flush dirty data to the backing device first)");
      }
      if (actual < MIN_SIZE) {
        throw new IOException(
            "cache media " + name + " is " + actual + " bytes (" + path + "), smaller than one"
                + " page (" + MIN_SIZE + " bytes): it is not cache media");
      }
      return actual;
    }

    private MemorySegment map(Arena arena, long size) throws IOException {
      FileChannel.MapMode mode =
          readOnly ? FileChannel.MapMode.READ_ONLY : FileChannel.MapMode.READ_WRITE;
      try {
        return channel.map(mode, 0, size, arena);
      } catch (IOException | RuntimeException e) {
        arena.close();
        throw new IOException(
            "cannot map cache media " + name + " (" + size + " bytes of " + path + "): "
                + e.getMessage() + "; the mapping needs " + size + " bytes of virtual address"
                + " space and one entry of vm.max_map_count (now " + maxMapCount() + "): check"
                + " `ulimit -v` and /proc/sys/vm/max_map_count",
            e);
      }
    }

    private IOException inUse(String byWhom) {
      return new IOException(
          "cache media " + name + " is in use " + byWhom + " (lock held on " + path + ")");
    }

    /** Gives back what this attempt took, in reverse order; the key last (see HeldFiles). */
    private void undo(Throwable failure) {
      try {
        if (lock != null && createdFile) {
          Files.deleteIfExists(path); // while the lock makes the file ours
        } else if (lock != null && extendedEmptyFile) {
          channel.truncate(0);
        }
      } catch (IOException | RuntimeException e) {
        failure.addSuppressed(e);
      }
      try {
        if (lock != null) {
          lock.release();
        }
      } catch (IOException | RuntimeException e) {
        failure.addSuppressed(e);
      }
      try {
        if (channel != null) {
          channel.close();
        }
      } catch (IOException | RuntimeException e) {
        failure.addSuppressed(e);
      }
      if (key != null) {
        HeldFiles.release(key);
      }
    }

    /**
     * The current vm.max_map_count, read line-wise: {@code Files.readString} returns only "6" of
     * "65530" here, because the JDK first reads one byte of a file whose size is 0 and a sysctl
     * file then reports end of file.
     */
    private static String maxMapCount() {
      try (BufferedReader reader = Files.newBufferedReader(Path.of("/proc/sys/vm/max_map_count"))) {
        String line = reader.readLine();
        return line == null ? "unknown" : line.strip();
      } catch (IOException | RuntimeException e) {
        return "unknown";
      }
    }
  }
}
