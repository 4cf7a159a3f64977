package io.pcache.core.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * The optional HTTP endpoint Prometheus scrapes: {@code GET /metrics} answers the text format
 * ({@link PrometheusFormat}); anything else is 404, any other method 405. The JDK's own server
 * ({@code jdk.httpserver}), each exchange on a virtual thread; no TLS, no authentication, which
 * is why it listens on the loopback interface unless told otherwise.
 */
final class PrometheusEndpoint implements AutoCloseable {

  private final HttpServer server;
  private final ExecutorService executor;

  private PrometheusEndpoint(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /** Starts serving {@code body} on {@code address}. */
  static PrometheusEndpoint start(InetSocketAddress address, Supplier<String> body) throws IOException {
    HttpServer server;
    try {
      server = HttpServer.create(address, 16);
    } catch (IOException e) {
      throw new IOException("cannot listen for Prometheus on " + address.getHostString() + ":" + address.getPort()
          + " (" + Metrics.PROMETHEUS_LISTEN + "): " + e, e);
    }
    ExecutorService executor = Executors.newThreadPerTaskExecutor(
        Thread.ofVirtual().name("pcache-metrics-http-", 0).factory());
    server.setExecutor(executor);
    server.createContext("/", exchange -> handle(exchange, body));
    server.start();
    return new PrometheusEndpoint(server, executor);
  }

  private static void handle(HttpExchange exchange, Supplier<String> body) throws IOException {
    try (exchange) {
      String method = exchange.getRequestMethod();
      if (!exchange.getRequestURI().getPath().equals("/metrics")) {
        send(exchange, 404, "not found: pcache serves its metrics at /metrics\n", method);
      } else if (!method.equals("GET") && !method.equals("HEAD")) {
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        send(exchange, 405, "method not allowed: use GET\n", method);
      } else {
        exchange.getResponseHeaders().set("Content-Type", PrometheusFormat.CONTENT_TYPE);
        send(exchange, 200, body.get(), method);
      }
    }
  }

  private static void send(HttpExchange exchange, int status, String text, String method) throws IOException {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    if (status != 200) {
      exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
    }
    if (method.equals("HEAD")) {
      exchange.sendResponseHeaders(status, -1);
      return;
    }
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** Where to scrape: {@code http://127.0.0.1:9464/metrics}. */
  URI uri() {
    InetSocketAddress a = server.getAddress();
    String host = a.getAddress().getHostAddress();
    if (host.contains(":")) {
      host = "[" + host + "]";
    }
    return URI.create("http://" + host + ":" + a.getPort() + "/metrics");
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
