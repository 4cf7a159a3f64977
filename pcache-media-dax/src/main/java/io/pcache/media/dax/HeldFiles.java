package io.pcache.media.dax;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The files and devices this JVM holds as DAX media, by file key (device and inode), so that a
 * second open in the same JVM is refused <em>before</em> it opens a file descriptor. (A copy of the
 * file media's registry: plugins do not depend on each other.)
 *
 * <p>Why this exists: {@code FileChannel} locks are POSIX {@code fcntl} record locks, which belong
 * to the process, not to the channel, and are all dropped when the process closes <em>any</em>
 * descriptor of the file. A second open that got as far as {@code tryLock} (which reports {@code
 * OverlappingFileLockException}) and then closed its channel would silently release the first
 * open's lock. So the key is claimed before any descriptor is opened and released only after the
 * media's descriptor is closed. (devdax devices are locked with {@code flock}, which belongs to
 * the open file description and has no such pitfall; they are claimed here all the same, for one
 * message and one rule.)
 *
 * <p>Thread-safe. Per class loader: a second copy of this driver in another module layer has its
 * own set. The {@code file} media has its own set too: opening one file as {@code file:} and as
 * {@code dax:} in the same JVM is refused by the lock, not here.
 */
final class HeldFiles {

  private static final Set<Object> KEYS = ConcurrentHashMap.newKeySet();

  private HeldFiles() {}

  /** The identity of the file at {@code path}: its file key, or its real path if there is none. */
  static Object keyOf(Path path, BasicFileAttributes attributes) throws IOException {
    Object key = attributes.fileKey();
    return key != null ? key : path.toRealPath();
  }

  /** Claims {@code key}; false when this JVM holds it already. */
  static boolean claim(Object key) {
    return KEYS.add(key);
  }

  /** Releases {@code key}; call only after every descriptor of the file has been closed. */
  static void release(Object key) {
    KEYS.remove(key);
  }
}
