package io.pcache.frontend.ublk;

import io.pcache.frontend.ublk.uring.UringSyscalls;
import java.util.List;

/**
 * Everything the ublk front-end asks of the operating system: io_uring ({@link UringSyscalls}) plus
 * the few file, process and memory calls around it. The seam where tests put a fake ublk driver.
 * Calls return {@code -errno} on failure, as the kernel does, unless said otherwise.
 */
interface UblkSys extends UringSyscalls {

  /** {@code open(path, O_RDWR | O_CLOEXEC)}: a descriptor or {@code -errno}. */
  int open(String path);

  /**
   * Whether a block device is claimed by someone (mounted, or opened with O_EXCL): {@code
   * open(path, O_RDONLY | O_EXCL)} fails with EBUSY. False when it cannot tell.
   */
  boolean inUse(String blockDevice);

  /** {@code eventfd(0, EFD_CLOEXEC)}: a descriptor or {@code -errno}. */
  int eventfd();

  /** Adds 1 to an eventfd's counter (wakes a reader): 0 or {@code -errno}. Any thread. */
  int signal(int eventFd);

  /** Marks the calling thread as an I/O flusher ({@code PR_SET_IO_FLUSHER}): 0 or {@code -errno}. Best effort. */
  int setIoFlusher();

  /** This process's id. */
  int getpid();

  /** The memory page size. */
  int pageSize();

  /** Whether process {@code pid} exists and is not a zombie. */
  boolean processAlive(int pid);

  /** Whether a file (a device node, a sysfs entry) exists. */
  boolean exists(String path);

  /** The ids of the ublk devices that exist (from {@code /sys/class/ublk-char}). */
  List<Integer> deviceIds();

  /** Whether this process holds CAP_SYS_ADMIN, which the ublk control commands need. */
  boolean hasCapSysAdmin();

  /** Why the native calls are unavailable (not Linux, no native access), or null. */
  String nativeFailure();
}
