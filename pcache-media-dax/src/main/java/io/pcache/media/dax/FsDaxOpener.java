package io.pcache.media.dax;

import io.pcache.api.media.MediaOptions;
import io.pcache.media.dax.DaxFileSystems.State;
import io.pcache.media.dax.DaxFileSystems.Verdict;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Set;
import jdk.nio.mapmode.ExtendedMapMode;

/**
 * Opens a file on a DAX file system as {@link DaxMedia}: checks that the file system (and the file)
 * is DAX before anything is created, claims the file in this JVM ({@link HeldFiles}), locks it
 * against other processes ({@code fcntl}, as the {@code file} media does, so that one file opened
 * as {@code file:} and as {@code dax:} by two processes is still exclusive), creates and
 * preallocates it or checks its size, and maps it with {@link ExtendedMapMode#READ_WRITE_SYNC}
 * ({@code MAP_SHARED_VALIDATE | MAP_SYNC}). Every refusal is an {@link IOException} whose message
 * starts with {@code cache media dax:<location>}, says why and suggests {@code file:} media where
 * that is the way out. On failure, everything taken so far is given back, and a file this open
 * created is deleted again.
 *
 * <h2>No holes</h2>
 *
 * A new file is written with zeros to its full size ({@code write(2)} on DAX copies straight to the
 * persistent memory) and then {@code fsync}ed once, so that every block is allocated and written
 * before it is mapped. With {@code MAP_SYNC} a hole would still be correct (the first write fault
 * allocates the block and makes the allocation durable before the store can happen), but each such
 * fault pays a journal commit, and a file system that is full then can only answer the store with
 * SIGBUS. An existing file with holes (made by {@code truncate -s} or by the {@code file} media)
 * gets its holes filled the same way: every all-zero 4 KiB block is written with zeros, which
 * changes no data.
 */
final class FsDaxOpener {

  /** The smallest media: one page. */
  static final long MIN_SIZE = 4096;

  /** The unit of preallocation writes: 1 MiB. */
  static final int FILL_CHUNK = 1 << 20;

  private static final Object OPENS = new Object();

  private FsDaxOpener() {}

  /**
   * Opens (or creates) the DAX file at {@code path}.
   *
   * @param existing the attributes of the existing regular file, or {@code null} when it does not
   *     exist
   */
  static DaxMedia open(String name, Path path, BasicFileAttributes existing, MediaOptions options, Mounts mounts,
      Sysfs sysfs) throws IOException {
    synchronized (OPENS) {
      return new Attempt(name, path, options, mounts, sysfs).open(existing);
    }
  }

  /** Where {@code path} is, for the DAX check: its real path, or its parent's plus its name. */
  static Path realLocation(Path path) throws IOException {
    if (Files.exists(path)) {
      return path.toRealPath();
    }
    Path parent = path.getParent();
    return parent == null ? path : parent.toRealPath().resolve(path.getFileName());
  }

  /**
   * The refusal for a file on a file system without DAX: why, and what to use instead.
   * {@code "cache media dax:/dev/shm/c.img is on tmpfs, which has no DAX: MAP_SYNC is not
   * supported (EOPNOTSUPP); use file:/dev/shm/c.img for emulated persistent memory"}.
   */
  static IOException notDax(String name, Path path, Verdict verdict) {
    boolean memory = verdict.mount() != null && DaxFileSystems.MEMORY_TYPES.contains(verdict.mount().fsType());
    String instead = memory
        ? "use file:" + path + " for emulated persistent memory (it survives a crash of pcache, not a reboot)"
        : "use file:" + path + " (page-cache media: persist = msync)";
    String fix = verdict.fix().isEmpty() ? "" : verdict.fix() + ", or ";
    return new IOException("cache media " + name + " is on " + verdict.why() + "; " + fix + instead);
  }

  /** One open: the resources it has taken so far, given back by {@link #undo} on failure. */
  private static final class Attempt {
    private final String name;
    private final Path path;
    private final MediaOptions options;
    private final Mounts mounts;
    private final Sysfs sysfs;
    private final boolean readOnly;
    private Verdict verdict;
    private Object key;
    private FileChannel channel;
    private FileLock lock;
    private boolean createdFile;
    private boolean extendedEmptyFile;

    Attempt(String name, Path path, MediaOptions options, Mounts mounts, Sysfs sysfs) {
      this.name = name;
      this.path = path;
      this.options = options;
      this.mounts = mounts;
      this.sysfs = sysfs;
      this.readOnly = options.readOnly();
    }

    DaxMedia open(BasicFileAttributes existing) throws IOException {
      try {
        if (existing == null) {
          checkCreatable();
        }
        Path real = realLocation(path);
        verdict = DaxFileSystems.of(mounts.find(real).orElse(null), sysfs);
        if (verdict.state() == State.NONE) {
          throw notDax(name, path, verdict);
        }
        if (existing != null) {
          checkDaxAttribute();
          claim(existing);
        }
        openChannel(existing == null);
        if (key == null) {
          claim(Files.readAttributes(path, BasicFileAttributes.class));
        }
        lock();
        if (createdFile) {
          checkDaxAttribute();
        }
        long size = checkOrCreateSize();
        Arena arena = Arena.ofShared();
        MemorySegment segment = map(arena, size);
        FileChannel ch = channel;
        FileLock lk = lock;
        Object k = key;
        return new DaxMedia(name, path.toString(), DaxMedia.Kind.FSDAX, arena, segment, readOnly, () -> {
          try {
            lk.release();
          } finally {
            try {
              ch.close();
            } finally {
              HeldFiles.release(k);
            }
          }
        });
      } catch (IOException | RuntimeException | Error e) {
        undo(e);
        throw e;
      }
    }

    private void checkCreatable() throws IOException {
      if (options.createSize() == 0) {
        throw new IOException("cache media " + name + " does not exist (" + path + "); set the cache size to create"
            + " it, or check the path");
      }
      if (readOnly) {
        throw new IOException("cache media " + name + " does not exist (" + path + "); a read-only open never"
            + " creates media");
      }
      Path parent = path.getParent();
      if (parent == null || !Files.isDirectory(parent)) {
        throw new IOException("cache media " + name + " cannot be created: directory " + parent + " does not exist;"
            + " create it first (on a file system mounted with -o dax)");
      }
      if (options.createSize() < MIN_SIZE) {
        throw new IOException("cache media " + name + " cannot be created with " + options.createSize() + " bytes:"
            + " that is smaller than one page (" + MIN_SIZE + " bytes); give a larger size");
      }
    }

    /** Refuses a file that statx says is not DAX (when the kernel reports the attribute). */
    private void checkDaxAttribute() throws IOException {
      FileStat stat = FileStat.ofPath(path.toString());
      if (stat == null || !stat.daxReported() || stat.dax()) {
        return;
      }
      String how = verdict.state() == State.PER_FILE
          ? "mount the file system with -o dax, or set the DAX flag on its directory (xfs_io -c 'chattr +x' "
              + path.getParent() + ") and create the file anew"
          : "check the file system's DAX support (dmesg)";
      throw new IOException("cache media " + name + " is not a DAX file: the kernel serves " + path
          + " through the page cache (statx reports no STATX_ATTR_DAX) although it is on " + verdict.why()
          + ", so MAP_SYNC is not supported (EOPNOTSUPP); " + how + ", or use file:" + path
          + " (page-cache media: persist = msync)");
    }

    private void claim(BasicFileAttributes attributes) throws IOException {
      Object candidate = HeldFiles.keyOf(path, attributes);
      if (!HeldFiles.claim(candidate)) {
        throw inUse("by an earlier open in this process");
      }
      key = candidate;
    }

    private void openChannel(boolean create) throws IOException {
      Set<OpenOption> modes = readOnly
          ? Set.of(StandardOpenOption.READ)
          : create
              ? Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)
              : Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE);
      try {
        channel = FileChannel.open(path, modes);
      } catch (AccessDeniedException e) {
        throw new IOException("cache media " + name + ": permission denied opening " + path + " for "
            + (readOnly ? "reading" : "reading and writing"), e);
      } catch (FileAlreadyExistsException e) {
        throw new IOException("cache media " + name + " was created by someone else while this process was"
            + " creating it (" + path + "); try again", e);
      } catch (NoSuchFileException e) {
        throw new IOException("cache media " + name + " does not exist (" + path + ")", e);
      }
      createdFile = create;
    }

    private void lock() throws IOException {
      try {
        lock = channel.tryLock(0, Long.MAX_VALUE, readOnly);
      } catch (OverlappingFileLockException e) {
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
          throw new IOException("cache media " + name + " cannot be created with " + wanted + " bytes: that is"
              + " smaller than one page (" + MIN_SIZE + " bytes); give a larger size");
        }
        extendedEmptyFile = !createdFile;
        preallocate(wanted);
        return wanted;
      }
      if (actual == 0) {
        throw new IOException("cache media " + name + " is an empty file (" + path + "); set the cache size to"
            + " create the media in it, or check the path");
      }
      if (wanted != 0 && actual != wanted) {
        throw new IOException("cache media " + name + " is " + actual + " bytes but the configuration asks for "
            + wanted + " bytes; existing media is never resized: set the size to " + actual + ", or remove "
            + path + " to create it anew with " + wanted + " bytes (its cached data is lost; flush dirty data"
            + " to the backing device first)");
      }
      if (actual < MIN_SIZE) {
        throw new IOException("cache media " + name + " is " + actual + " bytes (" + path + "), smaller than one"
            + " page (" + MIN_SIZE + " bytes): it is not cache media");
      }
      if (!readOnly) {
        FileStat stat = FileStat.ofPath(path.toString());
        if (stat != null && stat.isSparse()) {
          fillHoles(actual);
        }
      }
      return actual;
    }

    /** Writes zeros to {@code [0, size)} and syncs: every block allocated and written. */
    private void preallocate(long size) throws IOException {
      long usable = Files.getFileStore(path).getUsableSpace();
      if (usable < size) {
        throw new IOException("cache media " + name + " cannot be created with " + size + " bytes: the file"
            + " system of " + path + " has only " + usable + " bytes free (DAX media is preallocated, never"
            + " sparse); give a smaller size or free space");
      }
      ByteBuffer zeros = ByteBuffer.allocateDirect(FILL_CHUNK);
      long at = 0;
      try {
        while (at < size) {
          int n = (int) Math.min(FILL_CHUNK, size - at);
          zeros.clear().limit(n);
          while (zeros.hasRemaining()) {
            at += channel.write(zeros, at);
          }
        }
        channel.force(true);
      } catch (IOException e) {
        throw new IOException("cannot preallocate cache media " + name + " (" + at + " of " + size + " bytes of "
            + path + " written): " + e.getMessage(), e);
      }
    }

    /** Writes zeros over every all-zero 4 KiB block: allocates the holes, changes no data. */
    private void fillHoles(long size) throws IOException {
      int block = 4096;
      ByteBuffer chunk = ByteBuffer.allocateDirect(FILL_CHUNK);
      ByteBuffer zeroBlock = ByteBuffer.allocateDirect(block);
      long at = 0;
      try {
        while (at < size) {
          int n = (int) Math.min(FILL_CHUNK, size - at);
          chunk.clear().limit(n);
          while (chunk.hasRemaining() && channel.read(chunk, at + chunk.position()) >= 0) {
            // read the whole chunk
          }
          for (int b = 0; b < n; b += block) {
            int len = Math.min(block, n - b);
            if (chunk.slice(b, len).mismatch(zeroBlock.slice(0, len)) == -1) {
              ByteBuffer z = zeroBlock.slice(0, len);
              while (z.hasRemaining()) {
                channel.write(z, at + b + z.position());
              }
            }
          }
          at += n;
        }
        channel.force(true);
      } catch (IOException e) {
        throw new IOException("cannot fill the holes of sparse cache media " + name + " (at byte " + at + " of "
            + size + " of " + path + "): " + e.getMessage(), e);
      }
    }

    private MemorySegment map(Arena arena, long size) throws IOException {
      FileChannel.MapMode mode = readOnly ? ExtendedMapMode.READ_ONLY_SYNC : ExtendedMapMode.READ_WRITE_SYNC;
      try {
        return channel.map(mode, 0, size, arena);
      } catch (UnsupportedOperationException e) {
        arena.close();
        throw new IOException("cannot map cache media " + name + " with MAP_SYNC: this JVM cannot write back"
            + " CPU cache lines on this processor (ExtendedMapMode." + mode + " is unsupported); use file:" + path
            + " (page-cache media: persist = msync)", e);
      } catch (IOException | RuntimeException e) {
        arena.close();
        String reason = String.valueOf(e.getMessage());
        if (reason.contains("not supported")) {
          throw new IOException("cache media " + name + " is not a DAX file: the kernel refused MAP_SYNC for "
              + path + " (" + reason + ", EOPNOTSUPP) although it is on " + verdict.why() + "; mount the file"
              + " system with -o dax, or use file:" + path + " (page-cache media: persist = msync)", e);
        }
        throw new IOException("cannot map cache media " + name + " (" + size + " bytes of " + path + " with"
            + " MAP_SYNC): " + reason + "; the mapping needs " + size + " bytes of virtual address space and"
            + " one entry of vm.max_map_count: check `ulimit -v` and /proc/sys/vm/max_map_count", e);
      }
    }

    private IOException inUse(String byWhom) {
      return new IOException("cache media " + name + " is in use " + byWhom + " (lock held on " + path + ")");
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
  }
}
