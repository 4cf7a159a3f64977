package io.pcache.backing.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingOptions;
import io.pcache.testkit.BackingDeviceConformance;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The conformance suite on an image file opened with O_DIRECT (the temporary directory is on ext4
 * here), plus the refusal on file systems without O_DIRECT.
 */
class FileBackingDirectIoTest extends BackingDeviceConformance {

  private final BlockBackingProvider provider = new BlockBackingProvider();

  @BeforeAll
  static void directIoWorksInTheTempDirectory() throws IOException {
    Path probe = Files.createTempFile("pcache-odirect-probe", ".img");
    try {
      Files.write(probe, new byte[4096]);
      try (BackingDevice device = new BlockBackingProvider().open(probe.toString(), new BackingOptions(0, true, false))) {
        Assumptions.assumeTrue(device != null);
      } catch (IOException e) {
        Assumptions.abort("O_DIRECT does not work in " + probe.getParent() + ": " + e.getMessage());
      }
    } finally {
      Files.deleteIfExists(probe);
    }
  }

  @Override
  protected BackingDevice open(Path dir, long size) throws IOException {
    return provider.open(dir.resolve("direct.img").toString(), new BackingOptions(size, true, false));
  }

  @Override
  protected BackingDevice openReadOnly(Path dir) throws IOException {
    return provider.open(dir.resolve("direct.img").toString(), new BackingOptions(0, true, true));
  }

  @Override
  protected void resize(Path dir, long bytes) throws IOException {
    try (RandomAccessFile file = new RandomAccessFile(dir.resolve("direct.img").toFile(), "rw")) {
      file.setLength(bytes);
    }
  }

  @Test
  void isOpenWithODirect() throws IOException {
    BackingDevice device = openDevice();
    assertTrue(((BlockBackingDevice) device).directIo(), device.toString());
    assertTrue(device.toString().contains("O_DIRECT"), device.toString());
  }

  @Test
  void bypassesThePageCacheOfAnotherDescriptor() throws IOException {
    // What O_DIRECT writes must be visible to a buffered reader of the same file.
    BackingDevice device = openDevice();
    int block = device.logicalBlockSize();
    byte[] data = new byte[block * 2];
    Arrays.fill(data, (byte) 0x3C);
    device.write(block, MemorySegment.ofArray(data));
    byte[] onDisk = Files.readAllBytes(dir.resolve("direct.img"));
    assertArrayEquals(data, Arrays.copyOfRange(onDisk, block, block * 3));
  }

  @Test
  void ramfsRefusesDirectIoWithAClearMessage() throws Exception {
    Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "mounting ramfs needs root");
    Path mount = Files.createDirectories(dir.resolve("ramfs"));
    try {
      LoopDevices.run(List.of("mount", "-t", "ramfs", "ramfs", mount.toString()));
    } catch (IOException e) {
      Assumptions.abort("cannot mount ramfs here: " + e.getMessage());
    }
    try {
      Path image = mount.resolve("x.img");
      IOException e = assertThrows(IOException.class, () -> provider.open(image.toString(), new BackingOptions(1 << 20, true, false)));
      assertDirectIoRefusal(e, "block:" + image);
      assertTrue(!Files.exists(image), "a file created for a device that could not be opened is removed again");
      try (BackingDevice buffered = provider.open(image.toString(), new BackingOptions(1 << 20, false, false))) {
        assertEquals(1 << 20, buffered.size(), "the same file works without direct I/O");
      }
    } finally {
      LoopDevices.run(List.of("umount", mount.toString()));
    }
  }

  @Test
  void devShmEitherDoesDirectIoOrRefusesClearly() throws IOException {
    Path shm = Path.of("/dev/shm");
    Assumptions.assumeTrue(Files.isDirectory(shm), "no /dev/shm");
    Path image = Files.createTempFile(shm, "pcache-direct", ".img");
    try {
      Files.write(image, new byte[1 << 20]);
      try (BackingDevice device = provider.open(image.toString(), new BackingOptions(0, true, false))) {
        // tmpfs has O_DIRECT since Linux 6.6.
        byte[] data = new byte[device.logicalBlockSize()];
        Arrays.fill(data, (byte) 9);
        device.write(0, MemorySegment.ofArray(data));
        MemorySegment back = MemorySegment.ofArray(new byte[data.length]);
        device.read(0, back);
        assertArrayEquals(data, back.toArray(ValueLayout.JAVA_BYTE));
        System.out.println("O_DIRECT on /dev/shm works here: " + device);
      } catch (IOException e) {
        assertDirectIoRefusal(e, "block:" + image);
        System.out.println("O_DIRECT on /dev/shm refused here: " + e.getMessage());
      }
    } finally {
      Files.deleteIfExists(image);
    }
  }

  private static void assertDirectIoRefusal(IOException e, String name) {
    String message = String.valueOf(e.getMessage());
    assertTrue(message.contains(name), "must name the device: " + message);
    assertTrue(message.contains("does not support direct I/O"), message);
    assertTrue(message.contains("turn direct I/O off"), message);
  }
}
