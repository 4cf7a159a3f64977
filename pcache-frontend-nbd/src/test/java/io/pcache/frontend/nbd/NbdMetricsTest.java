package io.pcache.frontend.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link NbdServer#metrics()}: connections open, accepted and refused over nbd.max-connections. */
class NbdMetricsTest {

  @Test
  void connectionsAreCounted(@TempDir Path dir) throws Exception {
    try (MemoryDevice d = new MemoryDevice("d", 1 << 20);
        TestServer s = TestServer.start(d, dir, Map.of(NbdSettings.MAX_CONNECTIONS, "2"))) {
      assertEquals(Map.of("connections_open", 0L, "connections_total", 0L, "connections_refused_total", 0L),
          s.server.metrics());
      try (RawClient a = RawClient.tcp(s.port); RawClient b = RawClient.tcp(s.port)) {
        a.greeting();
        b.greeting();
        try (RawClient third = RawClient.tcp(s.port)) {
          assertTrue(third.closedByServer());
        }
        assertEquals(Map.of("connections_open", 2L, "connections_total", 2L, "connections_refused_total", 1L),
            s.server.metrics());
      }
      ProtocolCornerTest.waitFor(() -> s.server.metrics().get("connections_open") == 0);
      assertEquals(2L, s.server.metrics().get("connections_total"));
    }
  }
}
