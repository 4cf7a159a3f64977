package io.pcache.core.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.BlockDevice;
import io.pcache.api.BlockIOException;
import io.pcache.api.frontend.Frontend;
import io.pcache.api.gc.CacheUsage;
import io.pcache.api.gc.GcPolicy;
import io.pcache.core.config.ConfigException;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.engine.EngineOptions;
import io.pcache.testkit.FaultyBacking;
import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;

/** A known workload against a real engine; the metrics, scraped over HTTP and read over JMX, must move by exactly that much. */
class MetricsTest {

  private static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})? (\\S+)");

  /** Never reclaims: the workload's numbers stay exact. */
  static final GcPolicy NO_GC = new GcPolicy() {
    @Override
    public int segmentsToReclaim(CacheUsage usage) {
      return 0;
    }

    @Override
    public Map<String, String> parameters() {
      return Map.of();
    }

    @Override
    public void setParameter(String key, String value) {
      throw new IllegalArgumentException(key);
    }
  };

  /** A front-end that serves nothing and counts what a test tells it to. */
  private static final class CountingFrontend implements Frontend {
    final AtomicLong connections = new AtomicLong();

    @Override
    public void start() {}

    @Override
    public List<String> endpoints() {
      return List.of("test://");
    }

    @Override
    public Map<String, Long> metrics() {
      return Map.of("connections_total", connections.get(), "connections_open", 1L);
    }

    @Override
    public void close() {}
  }

  @Test
  void aKnownWorkloadMovesTheScrapedAndJmxValuesByExactlyThatMuch() throws Exception {
    MemoryMedia mem = MemoryMedia.allocate("mem:metrics-cache", 512L << 20);
    FaultyBacking faulty = new FaultyBacking(MemoryBacking.allocate("mem:metrics-backing", 64L << 20), new SplittableRandom(1));
    Metrics metrics = new Metrics(true, new InetSocketAddress("127.0.0.1", 0));
    CacheEngine engine = CacheEngine.open(metrics.meter(mem), metrics.meter(faulty), EngineOptions.defaults().withKsetFlushDelay(java.time.Duration.ofMinutes(10)), NO_GC);
    BlockDevice device = metrics.meter(engine);
    CountingFrontend frontend = new CountingFrontend();
    try {
      metrics.start(frontend, "test");
      URI uri = metrics.prometheusUri().orElseThrow();
      assertEquals("127.0.0.1", uri.getHost());
      Map<String, Double> before = parse(get(uri));

      int n = 37;
      byte[] block = new byte[4096];
      for (int i = 0; i < n; i++) {
        block[0] = (byte) i;
        device.write(i * 4096L, MemorySegment.ofArray(block), false);
      }
      // Nothing closes a kset before the flush below (the delay is 10 minutes): all of it is dirty.
      Map<String, Double> written = parse(get(uri));
      String cache = "name=\"" + engine.name() + "\"";
      assertEquals(n * 4096.0, delta(before, written, "pcache_cache_dirty_bytes{" + cache + "}"));
      for (int i = 0; i < n; i++) {
        device.read(i * 4096L, MemorySegment.ofArray(block));
      }
      device.flush();
      assertThrows(BlockIOException.class, () -> device.write(1L << 40, MemorySegment.ofArray(block), false));
      // A miss of a range never written reads the backing device, which fails once.
      faulty.failNext(FaultyBacking.Op.READ, 1);
      assertThrows(BlockIOException.class, () -> device.read(32L << 20, MemorySegment.ofArray(block)));
      frontend.connections.addAndGet(3);

      String text = get(uri);
      checkFormat(text);
      Map<String, Double> after = parse(text);
      assertEquals(n, delta(before, after, "pcache_cache_request_duration_seconds_count{" + cache + ",op=\"write\"}"));
      assertEquals(n * 4096.0, delta(before, after, "pcache_cache_request_bytes_total{" + cache + ",op=\"write\"}"));
      assertEquals(1, delta(before, after, "pcache_cache_request_errors_total{" + cache + ",op=\"write\"}"));
      assertEquals(n, delta(before, after, "pcache_cache_request_duration_seconds_count{" + cache + ",op=\"read\"}"));
      assertEquals(1, delta(before, after, "pcache_cache_request_errors_total{" + cache + ",op=\"read\"}"));
      assertEquals(1, delta(before, after, "pcache_cache_request_duration_seconds_count{" + cache + ",op=\"flush\"}"));
      assertEquals(n, delta(before, after, "pcache_cache_writes_total{" + cache + "}"));
      assertEquals(n * 4096.0, delta(before, after, "pcache_cache_write_bytes_total{" + cache + "}"));
      assertEquals(n, delta(before, after, "pcache_cache_read_hits_total{" + cache + "}"));
      assertEquals(n * 4096.0, delta(before, after, "pcache_cache_read_hit_bytes_total{" + cache + "}"));
      assertEquals(3, delta(before, after, "pcache_frontend_connections_total{name=\"test\"}"));
      assertEquals(1, after.get("pcache_frontend_connections_open{name=\"test\"}"));
      String media = "role=\"media\",name=\"mem:metrics-cache\"";
      assertTrue(delta(before, after, "pcache_device_bytes_total{" + media + ",op=\"write\"}") >= n * 4096.0);
      assertTrue(delta(before, after, "pcache_device_operations_total{" + media + ",op=\"persist\"}") >= 1);
      String backing = "role=\"backing\",name=\"mem:metrics-backing\"";
      assertEquals(1, delta(before, after, "pcache_device_errors_total{" + backing + ",op=\"read\"}"));
      assertEquals(0, after.get("pcache_device_errors_total{" + media + ",op=\"write\"}"));
      // The histogram's buckets are cumulative and end in +Inf == _count.
      String writeHist = "pcache_cache_request_duration_seconds_bucket{" + cache + ",op=\"write\",le=\"+Inf\"}";
      assertEquals(after.get("pcache_cache_request_duration_seconds_count{" + cache + ",op=\"write\"}"), after.get(writeHist));

      // JMX shows the same numbers.
      MBeanServer server = ManagementFactory.getPlatformMBeanServer();
      ObjectName cacheBean = new ObjectName("io.pcache:type=Cache,name=" + ObjectName.quote(engine.name()));
      assertEquals((long) n, server.getAttribute(cacheBean, "write_latency_count"));
      assertEquals((long) n, server.getAttribute(cacheBean, "writes"));
      assertEquals(n * 4096L, server.getAttribute(cacheBean, "write_request_bytes"));
      assertTrue((double) server.getAttribute(cacheBean, "write_latency_p99_us") > 0);
      assertEquals(1L, server.getAttribute(new ObjectName("io.pcache:type=Device,role=backing,name="
          + ObjectName.quote("mem:metrics-backing")), "read_errors"));
      assertEquals(3L, server.getAttribute(new ObjectName("io.pcache:type=Frontend,name=test"), "connections"));
      assertEquals(4, server.queryNames(new ObjectName("io.pcache:*"), null).size());

      // Only /metrics, only GET and HEAD.
      assertEquals(404, status(uri.resolve("/other"), "GET"));
      assertEquals(405, status(uri, "POST"));
      assertEquals(200, status(uri, "HEAD"));
    } finally {
      metrics.close();
      engine.close();
    }
    assertTrue(ManagementFactory.getPlatformMBeanServer().queryNames(new ObjectName("io.pcache:*"), null).isEmpty(),
        "close unregisters every MBean");
    assertThrows(IOException.class, () -> get(metrics.prometheusUri().orElseThrow()));
  }

  @Test
  void listenAddresses() {
    assertEquals(null, Metrics.parseListen("", "default"));
    assertEquals(new InetSocketAddress("127.0.0.1", 9464), Metrics.parseListen("9464", "default"));
    assertEquals(new InetSocketAddress("0.0.0.0", 9464), Metrics.parseListen("0.0.0.0:9464", "default"));
    assertEquals(new InetSocketAddress("::1", 9464), Metrics.parseListen("[::1]:9464", "default"));
    ConfigException e = assertThrows(ConfigException.class, () -> Metrics.parseListen("localhost:http", "flag --metrics.prometheus.listen"));
    assertTrue(e.getMessage().startsWith("metrics.prometheus.listen = 'localhost:http' (flag --metrics.prometheus.listen)"), e.getMessage());
    assertThrows(ConfigException.class, () -> Metrics.parseListen("70000", "x"));
    assertThrows(ConfigException.class, () -> Metrics.parseListen(":9464", "x"));
  }

  @Test
  void aPortInUseIsRefusedInOneLineNamingTheKey() throws Exception {
    try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      Metrics metrics = new Metrics(false, new InetSocketAddress("127.0.0.1", taken.getLocalPort()));
      IOException e = assertThrows(IOException.class, () -> metrics.start(null, "none"));
      assertTrue(e.getMessage().contains("metrics.prometheus.listen"), e.getMessage());
      assertFalse(e.getMessage().contains("\n"));
    }
  }

  private static double delta(Map<String, Double> before, Map<String, Double> after, String key) {
    Double a = after.get(key);
    if (a == null) {
      throw new AssertionError("no sample " + key + " in " + after.keySet());
    }
    return a - before.getOrDefault(key, 0.0);
  }

  /** Every line is a HELP, a TYPE or a sample; one HELP and TYPE per family, before its samples; buckets cumulative. */
  private static void checkFormat(String text) {
    Set<String> typed = new HashSet<>();
    Map<String, String> types = new HashMap<>();
    Map<String, Double> lastBucket = new HashMap<>();
    for (String line : text.split("\n")) {
      if (line.startsWith("# HELP ")) {
        continue;
      }
      if (line.startsWith("# TYPE ")) {
        String[] p = line.split(" ");
        assertTrue(typed.add(p[2]), "TYPE twice: " + line);
        types.put(p[2], p[3]);
        continue;
      }
      Matcher m = SAMPLE.matcher(line);
      assertTrue(m.matches(), "not a sample: " + line);
      String name = m.group(1);
      String family = types.containsKey(name) ? name : name.replaceAll("_(bucket|sum|count)$", "");
      assertTrue(types.containsKey(family), "sample before its TYPE: " + line);
      if (name.endsWith("_bucket")) {
        String series = m.group(2).replaceAll(",le=\"[^\"]*\"", "");
        double v = Double.parseDouble(m.group(3));
        assertTrue(v >= lastBucket.getOrDefault(series, 0.0), "buckets not cumulative at " + line);
        lastBucket.put(series, v);
      }
      if (types.get(family).equals("counter")) {
        assertTrue(name.endsWith("_total"), "counter without _total: " + line);
      }
    }
  }

  private static Map<String, Double> parse(String text) {
    Map<String, Double> m = new HashMap<>();
    for (String line : text.split("\n")) {
      if (line.startsWith("#")) {
        continue;
      }
      Matcher s = SAMPLE.matcher(line);
      if (s.matches()) {
        m.put(s.group(1) + (s.group(2) == null ? "" : s.group(2)), Double.parseDouble(s.group(3)));
      }
    }
    return m;
  }

  private static String get(URI uri) throws IOException {
    HttpURLConnection c = (HttpURLConnection) uri.toURL().openConnection();
    c.setConnectTimeout(10_000);
    c.setReadTimeout(10_000);
    try (InputStream in = c.getInputStream()) {
      assertEquals(200, c.getResponseCode());
      assertEquals(PrometheusFormat.CONTENT_TYPE, c.getContentType());
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } finally {
      c.disconnect();
    }
  }

  private static int status(URI uri, String method) throws IOException {
    HttpURLConnection c = (HttpURLConnection) uri.toURL().openConnection();
    c.setRequestMethod(method);
    c.setConnectTimeout(10_000);
    c.setReadTimeout(10_000);
    try {
      return c.getResponseCode();
    } finally {
      c.disconnect();
    }
  }
}
