package io.pcache.backing.block;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.BlockIOException;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingOptions;
import io.pcache.api.backing.BackingProvider;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.module.ModuleDescriptor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The native seam ({@link Posix}, {@link FileStat}) and the claims, against the real kernel. */
class NativeSeamTest {

  @TempDir Path dir;

  private final BlockBackingProvider provider = new BlockBackingProvider();

  @Test
  void libcIsLinkedAndErrnoIsRead() throws IOException {
    assertTrue(Posix.available());
    assertEquals(ProcessHandle.current().pid(), Posix.getpid());
    int fd = Posix.open(dir.resolve("missing").toString(), Posix.O_RDONLY | Posix.O_CLOEXEC, 0);
    assertEquals(-Posix.ENOENT, fd, "open of a missing file returns -ENOENT");
    assertTrue(Posix.describe(Posix.EINVAL).contains("Invalid argument (errno 22, EINVAL)"), Posix.describe(Posix.EINVAL));
    assertTrue(Posix.describe(4242).contains("errno 4242"), Posix.describe(4242));
  }

  @Test
  void statxReportsTypeSizeAndDirectIoAlignment() throws Exception {
    Path file = dir.resolve("f.img");
    Files.write(file, new byte[12345]);
    FileStat stat = FileStat.ofPath(file.toString());
    assertTrue(stat.isRegularFile());
    assertEquals(12345, stat.size());
    System.out.println("statx on " + dir + ": " + stat);
    assertEquals(Files.getAttribute(file, "unix:ino"), stat.ino());
    assertEquals(FileBackingTest.devNum((Long) Files.getAttribute(file, "unix:dev")), stat.dev().toString());
    assertEquals(new FileStat.DevNum(1, 3), FileStat.ofPath("/dev/null").rdev(), "/dev/null is character device 1:3");
    assertTrue(FileStat.ofPath("/dev/null").typeName().contains("character device"));
    assertTrue(FileStat.ofPath(dir.toString()).typeName().contains("directory"));
    ErrnoException e = assertThrows(ErrnoException.class, () -> FileStat.ofPath(dir.resolve("nope").toString()));
    assertEquals(Posix.ENOENT, e.errno());
  }

  @Test
  void blkGetSize64OnALoopDeviceIsTheFileSize() throws Exception {
    String reason = LoopDevices.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
    Path file = dir.resolve("loop.img");
    long size = 3L * 1024 * 1024 + 4096;
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.setLength(size);
    }
    String loop = LoopDevices.attach(file);
    try {
      int fd = Posix.open(loop, Posix.O_RDONLY | Posix.O_CLOEXEC, 0);
      assertTrue(fd >= 0, "open " + loop + ": " + (fd < 0 ? Posix.describe(-fd) : ""));
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG);
        assertEquals(0, Posix.ioctl(fd, Posix.BLKGETSIZE64, out));
        assertEquals(size, out.get(ValueLayout.JAVA_LONG, 0));
        out.fill((byte) 0);
        assertEquals(0, Posix.ioctl(fd, Posix.BLKSSZGET, out));
        assertEquals(512, out.get(ValueLayout.JAVA_INT, 0));
        assertTrue(FileStat.ofFd(fd).isBlockDevice());
      } finally {
        Posix.close(fd);
      }
      assertEquals(-Posix.ENOTTY, ioctlOnRegularFile(file), "block ioctls on a regular file fail with ENOTTY");
    } finally {
      LoopDevices.detach(loop);
    }
  }

  private static int ioctlOnRegularFile(Path file) {
    int fd = Posix.open(file.toString(), Posix.O_RDONLY | Posix.O_CLOEXEC, 0);
    try (Arena arena = Arena.ofConfined()) {
      return Posix.ioctl(fd, Posix.BLKGETSIZE64, arena.allocate(ValueLayout.JAVA_LONG));
    } finally {
      Posix.close(fd);
    }
  }

  @Test
  void exclusiveOpenByAnotherProgramIsReportedAsSuch() throws Exception {
    String reason = LoopDevices.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
    Path file = dir.resolve("claimed.img");
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.setLength(1 << 20);
    }
    String loop = LoopDevices.attach(file);
    try {
      // Another program's O_EXCL claim, without pcache's flock.
      int other = Posix.open(loop, Posix.O_RDONLY | Posix.O_EXCL | Posix.O_CLOEXEC, 0);
      assertTrue(other >= 0, Posix.describe(-other));
      try {
        IOException e = assertThrows(IOException.class, () -> provider.open(loop, BackingOptions.existing()));
        assertTrue(e.getMessage().contains("block:" + loop) && e.getMessage().contains("in use (mounted or claimed by another program)"), e.getMessage());
      } finally {
        Posix.close(other);
      }
      try (BackingDevice device = provider.open(loop, BackingOptions.existing())) {
        assertEquals(1 << 20, device.size());
      }
    } finally {
      LoopDevices.detach(loop);
    }
  }

  @Test
  void flockRefusesAcrossProcesses() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/flock")), "flock(1) from util-linux is not installed");
    Path image = dir.resolve("shared.img");
    Files.write(image, new byte[1 << 20]);

    // Another process holds the lock: pcache refuses.
    Process holder = new ProcessBuilder("/usr/bin/flock", "--exclusive", image.toString(), "sh", "-c", "echo locked; exec sleep 60")
        .redirectErrorStream(true).start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
      assertEquals("locked", out.readLine(), "flock(1) did not take the lock");
      IOException e = assertThrows(IOException.class, () -> provider.open(image.toString(), BackingOptions.existing()));
      assertEquals("backing device block:" + image + " is in use by another pcache process (it holds a lock on it)", e.getMessage());
    } finally {
      stop(holder);
    }
    // Released: pcache opens it, and now another process cannot take the lock.
    try (BackingDevice device = provider.open(image.toString(), BackingOptions.existing())) {
      Process tryLock = new ProcessBuilder("/usr/bin/flock", "--nonblock", "--exclusive", image.toString(), "true").start();
      assertTrue(tryLock.waitFor(30, TimeUnit.SECONDS));
      assertEquals(1, tryLock.exitValue(), "flock -n must fail while pcache holds " + device.name());
    }
  }

  /**
   * Stops {@code process} and its descendants and waits until they are gone: flock(1)'s child
   * inherits the locked file, so the lock lasts until the child has exited too.
   */
  private static void stop(Process process) throws InterruptedException {
    List<ProcessHandle> all = new ArrayList<>(process.descendants().toList());
    all.add(process.toHandle());
    all.forEach(ProcessHandle::destroy);
    for (ProcessHandle p : all) {
      try {
        p.onExit().get(10, TimeUnit.SECONDS);
      } catch (ExecutionException | TimeoutException e) {
        p.destroyForcibly();
        p.onExit().join();
      }
    }
  }

  @Test
  void virtualThreadCallsRunOnNamedPlatformThreadsAndKeepTheInterrupt() throws Exception {
    AtomicReference<String> ranOn = new AtomicReference<>();
    AtomicReference<Boolean> interruptKept = new AtomicReference<>();
    Thread caller = Thread.ofVirtual().name("seam-caller").start(() -> {
      Thread.currentThread().interrupt();
      try {
        IoThreads.run(() -> ranOn.set(Thread.currentThread().getName() + (Thread.currentThread().isVirtual() ? " (virtual)" : "")));
        interruptKept.set(Thread.currentThread().isInterrupted());
      } catch (BlockIOException e) {
        throw new AssertionError(e);
      }
    });
    assertTrue(caller.join(Duration.ofSeconds(10)));
    assertTrue(ranOn.get().startsWith("pcache-block-io-") && !ranOn.get().endsWith("(virtual)"), ranOn.get());
    assertTrue(interruptKept.get());

    IoThreads.run(() -> ranOn.set(Thread.currentThread().getName()));
    assertEquals(Thread.currentThread().getName(), ranOn.get(), "platform callers run their own calls");

    BlockIOException failure = new BlockIOException(BlockIOException.Errno.EIO, "x", 0, 0, "boom");
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread.ofVirtual().start(() -> {
      try {
        IoThreads.run(() -> {
          throw failure;
        });
      } catch (Throwable t) {
        thrown.set(t);
      }
    }).join();
    assertEquals(failure, thrown.get(), "a failure on the I/O thread reaches the caller as is");
  }

  @Test
  void closeWaitsForOperationsInside() throws Exception {
    InFlight inFlight = new InFlight();
    assertTrue(inFlight.enter());
    Thread closer = Thread.ofPlatform().name("seam-closer").start(inFlight::close);
    Thread.sleep(50);
    assertTrue(closer.isAlive(), "close must wait for the operation inside");
    assertFalse(inFlight.enter(), "no new operation once closing");
    inFlight.leave();
    assertTrue(closer.join(Duration.ofSeconds(10)));
    assertTrue(inFlight.isClosed());
    assertFalse(inFlight.close(), "second close");
  }

  @Test
  void moduleDescriptorDeclaresTheProviderAndExportsOnlyTheJnrInterface() {
    ModuleDescriptor descriptor = BlockBackingProvider.class.getModule().getDescriptor();
    Assumptions.assumeTrue(descriptor != null, "tests run on the class path");
    assertEquals("io.pcache.backing.block", descriptor.name());
    assertTrue(descriptor.provides().stream().anyMatch(p -> p.service().equals(BackingProvider.class.getName())
        && p.providers().equals(List.of(BlockBackingProvider.class.getName()))), descriptor.provides().toString());
    Set<String> exports = descriptor.exports().stream().map(ModuleDescriptor.Exports::source).collect(Collectors.toSet());
    assertEquals(Set.of("io.pcache.backing.block.internal"), exports);
    assertTrue(descriptor.exports().stream().noneMatch(ModuleDescriptor.Exports::isQualified), "jnr-ffi needs the export unqualified");
    Set<String> requires = descriptor.requires().stream().map(ModuleDescriptor.Requires::name).collect(Collectors.toSet());
    assertTrue(requires.containsAll(Set.of("io.pcache.api", "org.jnrproject.ffi")), requires.toString());
  }
}
