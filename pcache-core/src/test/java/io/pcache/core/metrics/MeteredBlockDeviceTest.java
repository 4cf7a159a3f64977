package io.pcache.core.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.BlockDevice;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.engine.EngineOptions;
import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The metering wrapper the front-end gets must keep the engine's quick paths (a wrapper that fell
 * back to the defaults would silently send every NBD request through a thread hand-off) and count
 * each request once, whichever path served it.
 */
class MeteredBlockDeviceTest {

  @Test
  void tryPathsReachTheEngineAndCountOnce() throws Exception {
    MemoryMedia media = MemoryMedia.allocate("mem:metered-cache", 512L << 20);
    MemoryBacking backing = MemoryBacking.allocate("mem:metered-backing", 64L << 20);
    try (Arena arena = Arena.ofConfined();
        CacheEngine engine = CacheEngine.open(media, backing, EngineOptions.defaults().withKsetFlushDelay(Duration.ofMinutes(10)),
            MetricsTest.NO_GC)) {
      MeteredBlockDevice device = new MeteredBlockDevice(engine);
      MemorySegment data = arena.allocate(4096, 4096).fill((byte) 0x5a);
      MemorySegment got = arena.allocate(4096, 4096);
      assertFalse(device.tryRead(1 << 20, got), "a miss needs the backing device");
      assertEquals(0, meter(device, "read").count(), "a declined try is not a request");
      device.read(1 << 20, got);
      assertTrue(device.tryRead(1 << 20, got), "now a hit, served through the wrapper");
      assertEquals(2, meter(device, "read").count());
      assertEquals(8192, meter(device, "read").bytes());
      assertEquals(media.persistenceDomain() == io.pcache.api.media.PersistenceDomain.PAGE_CACHE,
          !device.tryWrite(2 << 20, data, false), "tryWrite declines exactly when the engine does");
      assertEquals(device.tryFlush(), engine.tryFlush());
    }
  }

  private static OpMeter meter(MeteredBlockDevice device, String op) {
    return device.meters().stream().filter(m -> m.op().equals(op)).findFirst().orElseThrow();
  }
}
