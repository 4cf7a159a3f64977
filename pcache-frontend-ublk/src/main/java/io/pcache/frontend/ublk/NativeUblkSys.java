package io.pcache.frontend.ublk;

import io.pcache.frontend.ublk.internal.LibC;
import io.pcache.frontend.ublk.uring.Errnos;
import io.pcache.frontend.ublk.uring.NativeUring;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The real operating system behind {@link UblkSys}: libc through JNR-FFI, {@code /proc} and {@code /sys}. */
final class NativeUblkSys implements UblkSys {

  static final NativeUblkSys INSTANCE = new NativeUblkSys();

  private static final int O_RDONLY = 0;
  private static final int O_RDWR = 2;
  private static final int O_EXCL = 0200;
  private static final int O_CLOEXEC = 02000000;
  private static final int EFD_CLOEXEC = O_CLOEXEC;
  private static final int PR_SET_IO_FLUSHER = 57;
  private static final int CAP_SYS_ADMIN = 21;

  /** The 8-byte value 1 that {@link #signal} writes; never modified, so shared by every thread. */
  private static final MemorySegment ONE = Arena.global().allocateFrom(ValueLayout.JAVA_LONG, 1L);

  private NativeUblkSys() {}

  private static LibC libc() {
    return NativeUring.libc();
  }

  @Override
  public String nativeFailure() {
    return NativeUring.failure();
  }

  @Override
  public int setup(int entries, MemorySegment params) {
    return NativeUring.INSTANCE.setup(entries, params);
  }

  @Override
  public int enter(int fd, int toSubmit, int minComplete, int flags, MemorySegment arg, long argSize) {
    return NativeUring.INSTANCE.enter(fd, toSubmit, minComplete, flags, arg, argSize);
  }

  @Override
  public long mmap(long length, int prot, int flags, int fd, long offset) {
    return NativeUring.INSTANCE.mmap(length, prot, flags, fd, offset);
  }

  @Override
  public int munmap(long address, long length) {
    return NativeUring.INSTANCE.munmap(address, length);
  }

  @Override
  public int close(int fd) {
    return NativeUring.INSTANCE.close(fd);
  }

  @Override
  public int open(String path) {
    return (int) NativeUring.result(libc().open(path, O_RDWR | O_CLOEXEC, 0));
  }

  @Override
  public boolean inUse(String blockDevice) {
    int fd = (int) NativeUring.result(libc().open(blockDevice, O_RDONLY | O_EXCL | O_CLOEXEC, 0));
    if (fd >= 0) {
      libc().close(fd);
      return false;
    }
    return fd == -Errnos.EBUSY;
  }

  @Override
  public int eventfd() {
    return (int) NativeUring.result(libc().eventfd(0, EFD_CLOEXEC));
  }

  @Override
  public int signal(int eventFd) {
    long r = NativeUring.result(libc().write(eventFd, ONE.address(), 8));
    return r < 0 ? (int) r : 0;
  }

  @Override
  public int setIoFlusher() {
    return (int) NativeUring.result(libc().prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0));
  }

  @Override
  public int getpid() {
    return (int) ProcessHandle.current().pid();
  }

  @Override
  public int pageSize() {
    return NativeUring.failure() == null ? libc().getpagesize() : 4096;
  }

  @Override
  public boolean processAlive(int pid) {
    if (pid <= 0) {
      return false;
    }
    try {
      String stat = Files.readString(Path.of("/proc", Integer.toString(pid), "stat"), StandardCharsets.US_ASCII);
      int close = stat.lastIndexOf(')');
      char state = close >= 0 && close + 2 < stat.length() ? stat.charAt(close + 2) : '?';
      return state != 'Z' && state != 'X' && state != 'x';
    } catch (NoSuchFileException e) {
      return false;
    } catch (IOException e) {
      return true; // cannot tell: assume it runs, which never deletes a device in use
    }
  }

  @Override
  public boolean exists(String path) {
    return Files.exists(Path.of(path));
  }

  @Override
  public List<Integer> deviceIds() {
    List<Integer> ids = new ArrayList<>();
    Path dir = Path.of("/sys/class/ublk-char");
    if (!Files.isDirectory(dir)) {
      return ids;
    }
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, "ublkc*")) {
      for (Path p : entries) {
        try {
          ids.add(Integer.parseInt(p.getFileName().toString().substring(5)));
        } catch (NumberFormatException e) {
          // not a device entry
        }
      }
    } catch (IOException e) {
      // nothing to list
    }
    ids.sort(null);
    return ids;
  }

  @Override
  public boolean hasCapSysAdmin() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.US_ASCII)) {
        if (line.startsWith("CapEff:")) {
          long caps = Long.parseUnsignedLong(line.substring(7).strip(), 16);
          return (caps & (1L << CAP_SYS_ADMIN)) != 0;
        }
      }
    } catch (IOException | NumberFormatException e) {
      // cannot tell: let the kernel decide (EPERM is reported clearly too)
    }
    return true;
  }

  @Override
  public String describe(int errno) {
    return Errnos.describe(errno);
  }
}
