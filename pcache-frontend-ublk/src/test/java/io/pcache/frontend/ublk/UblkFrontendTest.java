package io.pcache.frontend.ublk;

import io.pcache.testkit.MapConfig;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.BlockDevice.Feature;
import io.pcache.api.BlockIOException;
import io.pcache.api.frontend.Frontend;
import io.pcache.frontend.ublk.FakeUblkKernel.Result;
import io.pcache.frontend.ublk.uring.Errnos;
import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The whole front-end (control path, queue threads, rings, request mapping, life cycle) against
 * {@link FakeUblkKernel}, which answers like Linux 6.1 unless told otherwise.
 */
@Timeout(60)
class UblkFrontendTest {

  private static final long SIZE = 4 << 20;

  private final FakeUblkKernel kernel = new FakeUblkKernel();
  private final MemoryDevice device = new MemoryDevice(SIZE);
  private final List<Frontend> frontends = new ArrayList<>();

  @AfterEach
  void tearDown() throws IOException {
    for (Frontend f : frontends) {
      f.close();
    }
    device.close();
    kernel.close();
  }

  private UblkFrontend frontend(Map<String, String> settings) throws IOException {
    UblkFrontendProvider provider = new UblkFrontendProvider(kernel);
    UblkFrontend f = (UblkFrontend) provider.create(device, new MapConfig(provider.configKeys(), settings));
    frontends.add(f);
    return f;
  }

  private UblkFrontend started(Map<String, String> settings) throws IOException {
    UblkFrontend f = frontend(settings);
    f.start();
    return f;
  }

  private static byte[] pattern(int length, int seed) {
    byte[] b = new byte[length];
    new Random(seed).nextBytes(b);
    return b;
  }

  private Result io(int dev, int queue, int opFlags, long sector, int sectors, byte[] data) throws Exception {
    return kernel.submit(dev, queue, opFlags, sector, sectors, data).get(10, TimeUnit.SECONDS);
  }

  private void assertNothingLeft() {
    assertEquals(Map.of(), kernel.devices, "devices left");
    assertEquals(0, kernel.openFiles(), "file descriptors left open");
    assertEquals(0, kernel.ringMappings(), "ring mappings left");
  }

  @Test
  void onLinux61TheControlCommandsFallBackToRawNumbersAndTheDeviceServes() throws Exception {
    UblkFrontend f = started(Map.of());
    assertEquals(List.of("/dev/ublkb0"), f.endpoints());
    assertEquals(List.of(
        "GET_FEATURES ioctl -1 = -19",
        "ADD_DEV ioctl -1 = -19", "ADD_DEV raw -1 = 0",
        "SET_PARAMS raw 0 = 0", "START_DEV raw 0 = 0"), kernel.log);
    FakeUblkKernel.Dev dev = kernel.devices.get(0);
    assertEquals(Uapi.S_DEV_LIVE, dev.state());
    assertEquals(kernel.pid, dev.info.ublksrvPid());
    assertEquals(kernel.pid, UblkControl.stampedOwner(dev.info).orElseThrow(), "the owner stamp is kept");
    assertEquals(0, dev.info.flags() & Uapi.F_CMD_IOCTL_ENCODE, "6.1 masks CMD_IOCTL_ENCODE");

    byte[] data = pattern(64 * 1024, 1);
    assertEquals(data.length, io(0, 0, Uapi.OP_WRITE, 100, data.length / 512, data).res());
    Result r = io(0, 0, Uapi.OP_READ, 100, data.length / 512, null);
    assertEquals(data.length, r.res());
    assertArrayEquals(data, r.data());
    assertEquals(2, f.requests());

    kernel.log.clear();
    f.close();
    assertEquals(List.of("STOP_DEV raw 0 = 0", "DEL_DEV raw 0 = 0"), kernel.log);
    assertEquals(List.of(), f.endpoints());
    assertNothingLeft();
    f.close(); // idempotent
  }

  @Test
  void aNewerKernelGetsIoctlEncodedCommandsForControlAndIo() throws Exception {
    kernel.modern = true;
    UblkFrontend f = started(Map.of());
    assertEquals(List.of("GET_FEATURES ioctl -1 = 0", "ADD_DEV ioctl -1 = 0", "SET_PARAMS ioctl 0 = 0",
        "START_DEV ioctl 0 = 0"), kernel.log);
    assertTrue((kernel.devices.get(0).info.flags() & Uapi.F_CMD_IOCTL_ENCODE) != 0);
    kernel.modern = false; // from here on only encoded I/O commands are accepted (the device has the flag)
    byte[] data = pattern(4096, 2);
    assertEquals(4096, io(0, 0, Uapi.OP_WRITE, 8, 8, data).res());
    assertArrayEquals(data, io(0, 0, Uapi.OP_READ, 8, 8, null).data());
    kernel.modern = true;
    f.close();
    assertNothingLeft();
  }

  @Test
  void parametersDescribeTheDevice() throws Exception {
    started(Map.of("ublk.max-io", "256K"));
    Uapi.Params p = kernel.devices.get(0).params;
    assertEquals(9, p.logicalBsShift());
    assertEquals(12, p.physicalBsShift());
    assertEquals(12, p.ioMinShift());
    assertEquals(12, p.ioOptShift());
    assertEquals(512, p.maxSectors());
    assertEquals(SIZE / 512, p.devSectors());
    assertEquals(Uapi.ATTR_VOLATILE_CACHE | Uapi.ATTR_FUA, p.attrs());
    assertTrue(p.discard());
    assertEquals(4096, p.discardGranularity());
    assertEquals(1 << 21, p.maxDiscardSectors());
    assertEquals(1 << 21, p.maxWriteZeroesSectors());
    assertEquals(1, p.maxDiscardSegments());
    assertEquals(256 * 1024, kernel.devices.get(0).info.maxIoBufBytes());
  }

  @Test
  void aDeviceWithoutCacheOrDiscardAdvertisesNeither() throws Exception {
    MemoryDevice plain = new MemoryDevice(1 << 20, EnumSet.noneOf(Feature.class));
    try {
      Uapi.Params p = UblkFrontend.params(plain, 65536);
      assertEquals(0, p.attrs());
      assertFalse(p.discard());
      assertEquals(1, p.types());
      Uapi.Params zeroesOnly = UblkFrontend.params(new MemoryDevice(1 << 20, EnumSet.of(Feature.WRITE_ZEROES)), 65536);
      assertTrue(zeroesOnly.discard());
      assertEquals(0, zeroesOnly.maxDiscardSectors());
      assertEquals(1 << 21, zeroesOnly.maxWriteZeroesSectors());
    } finally {
      plain.close();
    }
  }

  @Test
  void everyOperationReachesTheDevice() throws Exception {
    started(Map.of());
    byte[] data = pattern(8192, 3);
    assertEquals(8192, io(0, 0, Uapi.OP_WRITE | Uapi.IO_F_FUA, 0, 16, data).res());
    assertEquals(0, io(0, 0, Uapi.OP_FLUSH, 0, 0, null).res());
    assertEquals(0, io(0, 0, Uapi.OP_DISCARD, 0, 8, null).res());
    assertEquals(0, io(0, 0, Uapi.OP_WRITE_ZEROES | Uapi.IO_F_FUA, 8, 8, null).res());
    assertEquals(-Errnos.EOPNOTSUPP, io(0, 0, Uapi.OP_WRITE_SAME, 0, 8, null).res());
    assertEquals(-Errnos.EINVAL, io(0, 0, Uapi.OP_READ, SIZE / 512, 8, null).res());
    assertArrayEquals(new byte[8192], io(0, 0, Uapi.OP_READ, 0, 16, null).data());
    assertEquals(List.of("write-fua 0+8192", "flush", "discard 0+4096", "zeroes-fua 4096+4096",
        "read " + SIZE + "+4096", "read 0+8192"), device.calls);
  }

  @Test
  void aSlowRequestDoesNotHoldUpOthersOnTheSameQueue() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch slowEntered = new CountDownLatch(1);
    device.hook((op, offset, length) -> {
      if (op.equals("read") && offset == 1 << 20) {
        slowEntered.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    });
    started(Map.of("ublk.queue-depth", "8"));
    CompletableFuture<Result> slow = kernel.submit(0, 0, Uapi.OP_READ, (1 << 20) / 512, 8, null);
    assertTrue(slowEntered.await(10, TimeUnit.SECONDS));
    for (int i = 0; i < 50; i++) {
      byte[] data = pattern(4096, i);
      assertEquals(4096, io(0, 0, Uapi.OP_WRITE, 8L * i, 8, data).res(), "write " + i + " behind the slow read");
      assertArrayEquals(data, io(0, 0, Uapi.OP_READ, 8L * i, 8, null).data());
    }
    assertFalse(slow.isDone());
    release.countDown();
    assertEquals(4096, slow.get(10, TimeUnit.SECONDS).res());
  }

  @Test
  void manyRequestsInFlightOnSeveralQueuesKeepTheirData() throws Exception {
    started(Map.of("ublk.queues", "3", "ublk.queue-depth", "16", "ublk.max-io", "64K"));
    assertEquals(3, kernel.devices.get(0).queues.length);
    Random random = new Random(42);
    int blocks = (int) (SIZE / 4096);
    byte[][] shadow = new byte[blocks][];
    for (int round = 0; round < 10; round++) {
      List<CompletableFuture<Result>> writes = new ArrayList<>();
      java.util.Set<Integer> thisRound = new java.util.HashSet<>();
      for (int i = 0; i < 40; i++) {
        int block = random.nextInt(blocks);
        byte[] data = pattern(4096, random.nextInt());
        // one write per block in flight at a time: overlapping writes complete in any order
        if (!thisRound.add(block)) {
          continue;
        }
        writes.add(kernel.submit(0, i % 3, Uapi.OP_WRITE, block * 8L, 8, data));
        shadow[block] = data;
      }
      for (CompletableFuture<Result> w : writes) {
        assertEquals(4096, w.get(10, TimeUnit.SECONDS).res());
      }
    }
    List<CompletableFuture<Result>> reads = new ArrayList<>();
    List<Integer> which = new ArrayList<>();
    for (int block = 0; block < blocks; block++) {
      if (shadow[block] != null) {
        reads.add(kernel.submit(0, block % 3, Uapi.OP_READ, block * 8L, 8, null));
        which.add(block);
      }
    }
    for (int i = 0; i < reads.size(); i++) {
      assertArrayEquals(shadow[which.get(i)], reads.get(i).get(10, TimeUnit.SECONDS).data(), "block " + which.get(i));
    }
  }

  @Test
  void theKernelMayGrantFewerQueues() throws Exception {
    kernel.cpus = 1;
    UblkFrontend f = started(Map.of("ublk.queues", "4"));
    assertEquals(1, kernel.devices.get(0).queues.length);
    assertEquals(4096, io(0, 0, Uapi.OP_WRITE, 0, 8, pattern(4096, 5)).res());
    f.close();
    assertNothingLeft();
  }

  @Test
  void closeWaitsForRequestsInFlightAndCommitsThem() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch entered = new CountDownLatch(1);
    device.hook((op, offset, length) -> {
      if (op.equals("write")) {
        entered.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    });
    UblkFrontend f = started(Map.of());
    CompletableFuture<Result> pending = kernel.submit(0, 0, Uapi.OP_WRITE, 0, 8, pattern(4096, 9));
    assertTrue(entered.await(10, TimeUnit.SECONDS));
    Thread closer = Thread.ofPlatform().start(() -> {
      try {
        f.close();
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    });
    Thread.sleep(100);
    assertTrue(closer.isAlive(), "close waits for the request in flight");
    release.countDown();
    closer.join(10_000);
    assertFalse(closer.isAlive());
    assertEquals(4096, pending.get().res());
    assertNothingLeft();
  }

  @Test
  void aDeadDeviceOfACrashedPcacheIsDeletedFirst() throws Exception {
    kernel.addDeadDevice(0, UblkControl.ownerStamp(999)); // pid 999 is gone
    kernel.addDeadDevice(1, 0); // someone else's, left alone
    UblkFrontend f = started(Map.of());
    assertEquals(List.of("/dev/ublkb0"), f.endpoints());
    assertTrue(kernel.log.contains("DEL_DEV raw 0 = 0"), kernel.log.toString());
    assertTrue(kernel.log.indexOf("DEL_DEV raw 0 = 0") < kernel.log.indexOf("ADD_DEV raw -1 = 0"));
    assertTrue(kernel.devices.containsKey(1), "a device pcache did not create is not touched in auto mode");
  }

  @Test
  void aRunningPcacheDeviceIsLeftAlone() throws Exception {
    kernel.alivePids.add(777);
    kernel.addDeadDevice(0, UblkControl.ownerStamp(777)); // still being set up by process 777
    UblkFrontend f = started(Map.of());
    assertEquals(List.of("/dev/ublkb1"), f.endpoints());
    assertTrue(kernel.devices.containsKey(0));
  }

  @Test
  void theConfiguredIdIsClearedOfADeadDeviceEvenIfNotPcaches() throws Exception {
    kernel.addDeadDevice(5, 0);
    UblkFrontend f = started(Map.of("ublk.dev-id", "5"));
    assertEquals(List.of("/dev/ublkb5"), f.endpoints());
    assertTrue(kernel.log.contains("DEL_DEV raw 5 = 0"), kernel.log.toString());
  }

  @Test
  void theConfiguredIdServedByARunningServerIsRefused() throws Exception {
    FakeUblkKernel.Dev other = kernel.addDeadDevice(3, 0);
    other.set(Uapi.S_DEV_LIVE, 555);
    kernel.alivePids.add(555);
    UblkFrontend f = frontend(Map.of("ublk.dev-id", "3"));
    IOException e = assertThrows(IOException.class, f::start);
    assertTrue(e.getMessage().contains("ublk device 3") && e.getMessage().contains("served by a running process"),
        e.getMessage());
    assertTrue(kernel.devices.containsKey(3));
    assertEquals(0, kernel.openFiles());
    assertEquals(List.of(), f.endpoints());
  }

  @Test
  void theConfiguredIdHeldOpenIsRefused() throws Exception {
    kernel.addDeadDevice(2, UblkControl.ownerStamp(999));
    int fd = kernel.open("/dev/ublkc2");
    UblkFrontend f = frontend(Map.of("ublk.dev-id", "2"));
    IOException e = assertThrows(IOException.class, f::start);
    assertTrue(e.getMessage().contains("held open"), e.getMessage());
    kernel.close(fd);
  }

  @Test
  void aTakenIdSaysWhatToDo() throws Exception {
    started(Map.of("ublk.dev-id", "1"));
    kernel.pid = 4243; // a second pcache process
    kernel.alivePids.add(4242);
    UblkFrontend second = frontend(Map.of("ublk.dev-id", "1"));
    IOException e = assertThrows(IOException.class, second::start);
    assertTrue(e.getMessage().contains("served by a running process"), e.getMessage());
  }

  @Test
  void aRefusedFetchFailsTheStartAndDeletesTheDevice() throws Exception {
    kernel.refuseFetch = true;
    UblkFrontend f = frontend(Map.of());
    IOException e = assertThrows(IOException.class, f::start);
    assertTrue(e.getMessage().contains("could not start") && e.getMessage().contains("EINVAL"), e.getMessage());
    assertTrue(kernel.log.contains("DEL_DEV raw 0 = 0"), kernel.log.toString());
    assertFalse(kernel.log.stream().anyMatch(l -> l.startsWith("START_DEV")), kernel.log.toString());
    assertNothingLeft();
  }

  @Test
  void missingDriverAndPrivilegeGiveOneLineReasons() throws Exception {
    UblkFrontendProvider provider = new UblkFrontendProvider(kernel);
    assertEquals(java.util.Optional.empty(), provider.unavailableReason());

    kernel.privileged = false;
    assertTrue(provider.unavailableReason().orElseThrow().contains("CAP_SYS_ADMIN"));
    UblkFrontend f = frontend(Map.of());
    IOException e = assertThrows(IOException.class, f::start);
    assertTrue(e.getMessage().contains("EPERM") && e.getMessage().contains("run pcache as root"), e.getMessage());
    kernel.privileged = true;

    kernel.accessDenied = true;
    assertTrue(provider.unavailableReason().orElseThrow().startsWith("no permission to open /dev/ublk-control"));
    kernel.accessDenied = false;

    kernel.loaded = false;
    String reason = provider.unavailableReason().orElseThrow();
    assertTrue(reason.contains("modprobe ublk_drv"), reason);
    assertFalse(reason.contains("\n"));
    IOException e2 = assertThrows(IOException.class, frontend(Map.of())::start);
    assertTrue(e2.getMessage().contains("modprobe ublk_drv"), e2.getMessage());
  }

  @Test
  void aMountedDeviceIsStoppedAnyway() throws Exception {
    UblkFrontend f = started(Map.of());
    kernel.mounted.add("/dev/ublkb0"); // a warning is logged; STOP_DEV and DEL_DEV follow as usual
    f.close();
    assertNothingLeft();
  }

  @Test
  void lifeCycleMisuse() throws Exception {
    UblkFrontend f = frontend(Map.of());
    assertEquals(List.of(), f.endpoints());
    f.close();
    assertThrows(IOException.class, f::start);
    UblkFrontend g = started(Map.of());
    assertThrows(IllegalStateException.class, g::start);
  }

  @Test
  void aDeviceTheKernelCannotServeIsRefusedBeforeAnyCommand() {
    MemoryDevice odd = new MemoryDevice(1000);
    try {
      UblkFrontend f = new UblkFrontend(odd, new UblkSettings(-1, 1, 4, 4096), kernel);
      IOException e = assertThrows(IOException.class, f::start);
      assertTrue(e.getMessage().contains("not a positive multiple of 512"), e.getMessage());
      assertEquals(List.of(), kernel.log);
    } finally {
      odd.close();
    }
  }

  @Test
  void errorsFromTheDeviceReachTheKernelAsErrnos() throws Exception {
    device.hook((op, offset, length) -> {
      if (op.equals("read")) {
        throw new BlockIOException(BlockIOException.Errno.EIO, "mem", offset, length, "bad sector");
      }
    });
    started(Map.of());
    assertEquals(-Errnos.EIO, io(0, 0, Uapi.OP_READ, 0, 8, null).res());
    assertNull(io(0, 0, Uapi.OP_READ, 0, 8, null).data());
  }
}
