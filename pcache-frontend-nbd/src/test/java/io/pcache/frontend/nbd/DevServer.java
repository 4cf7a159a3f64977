package io.pcache.frontend.nbd;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * A test-only way to run the server by hand on an in-memory device:
 * {@code ./mvnw -o -q test -pl pcache-frontend-nbd -Dtest=DevServer -Dnbd.dev.seconds=60
 * [-Dnbd.dev.port=10809] [-Dnbd.dev.size=1G]}; the endpoints are printed to
 * target/surefire-reports and to /tmp/pcache-nbd-dev.endpoints.
 */
class DevServer {

  @Test
  @EnabledIfSystemProperty(named = "nbd.dev.seconds", matches = "\\d+")
  void serve() throws Exception {
    long seconds = Long.parseLong(System.getProperty("nbd.dev.seconds"));
    long size = Long.parseLong(System.getProperty("nbd.dev.size", String.valueOf(1L << 30)));
    Path dir = Files.createTempDirectory("pcache-nbd-dev");
    Map<String, String> settings = new HashMap<>();
    settings.put(NbdSettings.LISTEN, "127.0.0.1:" + System.getProperty("nbd.dev.port", "0"));
    try (MemoryDevice device = new MemoryDevice("memory", size);
        TestServer server = TestServer.start(device, dir, settings)) {
      System.out.println("endpoints: " + server.endpoints());
      Files.writeString(Path.of("/tmp/pcache-nbd-dev.endpoints"), String.join("\n", server.endpoints()) + "\n");
      Thread.sleep(seconds * 1000);
    }
  }
}
