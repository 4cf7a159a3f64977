package io.pcache.backing.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingOptions;
import io.pcache.testkit.BackingDeviceConformance;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The conformance suite on a real block device: a loop device over a sparse file in the test's
 * directory, attached with {@code losetup} (root only; skipped with the reason otherwise) and
 * detached after each test.
 */
class LoopDeviceBackingTest extends BackingDeviceConformance {

  private final BlockBackingProvider provider = new BlockBackingProvider();
  private final Map<Path, String> loops = new HashMap<>();

  @BeforeAll
  static void loopDevicesWork() {
    String reason = LoopDevices.unavailableReason();
    Assumptions.assumeTrue(reason == null, reason);
  }

  /** The loop device of {@code dir}, attached over {@code dir/loop.img} on first use. */
  String loopDevice(Path dir, long size) throws IOException {
    String device = loops.get(dir);
    if (device == null) {
      Path file = dir.resolve("loop.img");
      try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
        raf.setLength(size);
      }
      device = LoopDevices.attach(file);
      loops.put(dir, device);
    }
    return device;
  }

  @Override
  protected BackingDevice open(Path dir, long size) throws IOException {
    return provider.open(loopDevice(dir, size), BackingOptions.existing());
  }

  @Override
  protected BackingDevice openReadOnly(Path dir) throws IOException {
    return provider.open(loopDevice(dir, deviceSize()), new BackingOptions(0, false, true));
  }

  /** Resizes the loop device's file, then has the loop driver read its size again ({@code losetup -c}). */
  @Override
  protected void resize(Path dir, long bytes) throws IOException {
    try (RandomAccessFile raf = new RandomAccessFile(dir.resolve("loop.img").toFile(), "rw")) {
      raf.setLength(bytes);
    }
    LoopDevices.run(List.of("losetup", "--set-capacity", loops.get(dir)));
  }

  @Override
  protected void cleanUp(Path dir) throws IOException {
    String device = loops.remove(dir);
    if (device != null) {
      LoopDevices.detach(device);
    }
  }

  @Test
  void isABlockDeviceOfTheFileSize() throws IOException {
    BackingDevice device = openDevice();
    assertEquals(BlockBackingDevice.Kind.BLOCK_DEVICE, ((BlockBackingDevice) device).kind());
    assertEquals(deviceSize(), device.size());
    assertEquals(512, device.logicalBlockSize());
    assertEquals("block:" + loops.get(dir), device.name());
    assertEquals(BlockBackingProvider.PROBE_BLOCK_DEVICE, provider.probe(loops.get(dir)));
  }

  @Test
  void directIoOnTheBlockDevice() throws IOException {
    String loop = loopDevice(dir, deviceSize());
    try (BackingDevice device = provider.open(loop, new BackingOptions(0, true, false))) {
      assertTrue(((BlockBackingDevice) device).directIo());
      byte[] data = new byte[4096 + 512];
      Arrays.fill(data, (byte) 0x42);
      device.write(512, MemorySegment.ofArray(data));
      byte[] back = new byte[data.length];
      device.read(512, MemorySegment.ofArray(back));
      assertArrayEquals(data, back);
    }
  }
}
