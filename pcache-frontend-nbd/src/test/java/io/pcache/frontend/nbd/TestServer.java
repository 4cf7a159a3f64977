package io.pcache.frontend.nbd;

import io.pcache.testkit.MapConfig;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An NBD server on an in-memory device, on an ephemeral TCP port of 127.0.0.1 and a Unix socket,
 * made through {@link NbdFrontendProvider} exactly as {@code pcache run} does.
 */
final class TestServer implements AutoCloseable {

  final MemoryDevice device;
  final NbdServer server;
  final int port;
  final Path socket;

  private TestServer(MemoryDevice device, NbdServer server, Path socket) {
    this.device = device;
    this.server = server;
    this.socket = socket;
    URI tcp = URI.create(server.endpoints().getFirst());
    this.port = tcp.getPort();
  }

  /** Starts a server on {@code device}; {@code settings} override the nbd.* defaults. */
  static TestServer start(MemoryDevice device, Path dir, Map<String, String> settings) throws IOException {
    Map<String, String> all = new HashMap<>();
    Path socket = dir.resolve("nbd.sock");
    all.put(NbdSettings.LISTEN, "127.0.0.1:0");
    all.put(NbdSettings.SOCKET, socket.toString());
    all.putAll(settings);
    NbdFrontendProvider provider = new NbdFrontendProvider();
    NbdServer server = (NbdServer) provider.create(device, new MapConfig(provider.configKeys(), all));
    server.start();
    return new TestServer(device, server, socket);
  }

  static TestServer start(MemoryDevice device, Path dir) throws IOException {
    return start(device, dir, Map.of());
  }

  /** {@code nbd://127.0.0.1:PORT/pcache}. */
  String uri() {
    return server.endpoints().getFirst();
  }

  /** {@code nbd+unix:///pcache?socket=PATH}. */
  String unixUri() {
    return server.endpoints().get(1);
  }

  List<String> endpoints() {
    return server.endpoints();
  }

  /** Stops the server and checks that every buffer went back to the pool. */
  @Override
  public void close() throws IOException {
    server.close();
    assertEquals(0, server.connectionCount(), "connections left after close");
    assertEquals(0, server.pool().outstanding(), "buffers not released");
  }
}
