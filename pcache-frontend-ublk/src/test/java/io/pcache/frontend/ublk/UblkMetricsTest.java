package io.pcache.frontend.ublk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pcache.testkit.MapConfig;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link UblkFrontend#metrics()} against {@link FakeUblkKernel}: queues, requests served, requests failed. */
@Timeout(60)
class UblkMetricsTest {

  @Test
  void metricsCountQueuesRequestsAndErrors() throws Exception {
    try (FakeUblkKernel kernel = new FakeUblkKernel(); MemoryDevice device = new MemoryDevice(4 << 20)) {
      UblkFrontendProvider provider = new UblkFrontendProvider(kernel);
      UblkFrontend f = (UblkFrontend) provider.create(device, new MapConfig(provider.configKeys(),
          Map.of("ublk.queues", "2")));
      assertEquals(Map.of("queues", 0L, "requests_total", 0L, "errors_total", 0L), f.metrics(), "before start");
      f.start();
      try {
        byte[] data = new byte[4096];
        assertEquals(4096, kernel.submit(0, 0, Uapi.OP_WRITE, 8, 8, data).get(10, TimeUnit.SECONDS).res());
        assertEquals(4096, kernel.submit(0, 1, Uapi.OP_READ, 8, 8, null).get(10, TimeUnit.SECONDS).res());
        // Past the end of the device: answered with an error.
        kernel.submit(0, 1, Uapi.OP_READ, (4 << 20) / 512, 8, null).get(10, TimeUnit.SECONDS);
        assertEquals(Map.of("queues", 2L, "requests_total", 3L, "errors_total", 1L), f.metrics());
      } finally {
        f.close();
      }
      assertEquals(3L, f.metrics().get("requests_total"), "counters survive close");
    }
  }
}
