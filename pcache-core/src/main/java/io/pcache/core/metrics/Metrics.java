package io.pcache.core.metrics;

import io.pcache.api.BlockDevice;
import io.pcache.api.Config;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.frontend.Frontend;
import io.pcache.api.media.CacheMedia;
import io.pcache.core.config.ConfigException;
import io.pcache.core.config.CoreKeys;
import io.pcache.core.engine.CacheEngine;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The metrics of a running pcache: what {@code pcache run} exposes over JMX and, when asked, a
 * Prometheus endpoint.
 *
 * <p>Use: {@link #create} from the configuration; wrap the cache media, the backing device and
 * the engine with the {@code meter} methods as they are opened (the engine's wrapper is the {@link
 * BlockDevice} to hand to the front-end, so requests are timed where the front-end sees them);
 * {@link #start} once the front-end runs; {@link #close} at shutdown.
 *
 * <h2>What is measured</h2>
 *
 * <ul>
 *   <li>{@code io.pcache:type=Cache,name=...} / {@code pcache_cache_*}: the engine's counters
 *       (hits, misses, bytes, dirty bytes, segments used, writeback and GC progress, waits on a
 *       full cache, CRC errors), per front-end operation a latency histogram, bytes and errors,
 *       and per-second rates of writeback and GC.
 *   <li>{@code io.pcache:type=Frontend,name=nbd|ublk} / {@code pcache_frontend_*}: what the
 *       front-end reports ({@link Frontend#metrics()}).
 *   <li>{@code io.pcache:type=Device,role=media|backing,name=...} / {@code pcache_device_*}: per
 *       operation calls, bytes and errors; latency histograms for the backing device.
 * </ul>
 *
 * <p>Thread-safe. Nothing here takes a lock on the I/O path; see {@link LatencyHistogram}.
 */
public final class Metrics implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(Metrics.class);

  public static final String JMX = CoreKeys.METRICS_JMX;
  public static final String PROMETHEUS_LISTEN = CoreKeys.METRICS_PROMETHEUS_LISTEN;

  /** The engine counters that are gauges; every other one only grows. */
  private static final Set<String> GAUGES =
      Set.of("dirty_bytes", "segments_total", "segments_used", "kset_segments", "waiting_writes", "index_keys");

  /** Descriptions of the engine's counters (one not listed here is still exported, with a generic description). */
  private static final Map<String, String> HELP = Map.ofEntries(
      Map.entry("reads", "Read requests served by the cache"),
      Map.entry("read_hits", "Read extents found in the cache"),
      Map.entry("read_misses", "Read extents not in the cache, read from the backing device"),
      Map.entry("read_hit_bytes", "Bytes read from the cache"),
      Map.entry("read_miss_bytes", "Bytes read from the backing device on a miss"),
      Map.entry("miss_fills", "Missed extents copied into the cache"),
      Map.entry("writes", "Write requests"),
      Map.entry("write_bytes", "Bytes written"),
      Map.entry("fua_writes", "Writes with FUA (durable on completion)"),
      Map.entry("flushes", "Flush requests"),
      Map.entry("discards", "Discard requests"),
      Map.entry("discard_bytes", "Bytes discarded"),
      Map.entry("write_zeroes", "Write-zeroes requests"),
      Map.entry("write_zeroes_bytes", "Bytes zeroed"),
      Map.entry("dirty_bytes", "Bytes in the cache not yet written back"),
      Map.entry("ksets_closed", "Ksets closed and persisted"),
      Map.entry("writeback_ksets", "Ksets written back to the backing device"),
      Map.entry("writeback_keys", "Keys written back to the backing device"),
      Map.entry("writeback_bytes", "Bytes written back to the backing device"),
      Map.entry("writeback_flushes", "Flushes of the backing device by writeback"),
      Map.entry("writeback_errors", "Writeback batches that failed (retried)"),
      Map.entry("gc_ksets", "Ksets reclaimed by GC"),
      Map.entry("gc_segments_freed", "Segments freed by GC"),
      Map.entry("gc_errors", "GC rounds that failed"),
      Map.entry("seg_gen_errors", "Segment generation bumps that could not be persisted"),
      Map.entry("segments_held", "Segments held out of use because their generation bump is not durable"),
      Map.entry("crc_errors", "Data CRC mismatches found"),
      Map.entry("stale_hits", "Index hits on a reclaimed segment, re-read"),
      Map.entry("segments_total", "Segments of the cache media"),
      Map.entry("segments_used", "Segments in use"),
      Map.entry("kset_segments", "Segments holding the key log"),
      Map.entry("full_waits", "Writes that had to wait for space on a full cache"),
      Map.entry("waiting_writes", "Writes waiting for space now"),
      Map.entry("index_keys", "Keys in the in-memory index"));

  private static final Pattern HOST_PORT = Pattern.compile("(?:(.*):)?(\\d{1,5})");

  private final boolean jmx;
  private final InetSocketAddress prometheus;
  private final List<MetricGroup> groups = new CopyOnWriteArrayList<>();
  private final List<ObjectName> registered = new ArrayList<>();
  private final Rate writebackBytesRate = new Rate();
  private final Rate gcSegmentsRate = new Rate();
  private MeteredCacheMedia media;
  private MeteredBackingDevice backing;
  private MeteredBlockDevice device;
  private CacheEngine engine;
  private PrometheusEndpoint endpoint;
  private boolean closed;

  Metrics(boolean jmx, InetSocketAddress prometheus) {
    this.jmx = jmx;
    this.prometheus = prometheus;
  }

  /**
   * Reads {@link #JMX} and {@link #PROMETHEUS_LISTEN}.
   *
   * @throws ConfigException when the listen address is not a port or host:port
   */
  public static Metrics create(Config config) {
    return new Metrics(config.getBoolean(JMX), parseListen(config.get(PROMETHEUS_LISTEN), config.sourceOf(PROMETHEUS_LISTEN)));
  }

  /** {@code ""} → null (off); {@code 9464} → 127.0.0.1:9464; {@code host:port}; {@code [::1]:9464}. */
  static InetSocketAddress parseListen(String value, String source) {
    String v = value == null ? "" : value.strip();
    if (v.isEmpty()) {
      return null;
    }
    Matcher m = HOST_PORT.matcher(v);
    int port = m.matches() ? Integer.parseInt(m.group(2)) : -1;
    if (port < 0 || port > 65535 || (m.group(1) != null && m.group(1).isEmpty())) {
      throw new ConfigException(PROMETHEUS_LISTEN + " = '" + value + "' (" + source + ") is not an address; write a port"
          + " (9464 listens on 127.0.0.1) or host:port (0.0.0.0:9464), or leave it empty for no endpoint");
    }
    String host = m.group(1) == null ? "127.0.0.1" : m.group(1);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    return new InetSocketAddress(host, port);
  }

  /** Meters the cache media; use the result in its place. */
  public synchronized CacheMedia meter(CacheMedia m) {
    media = new MeteredCacheMedia(m);
    return media;
  }

  /** Meters the backing device; use the result in its place. */
  public synchronized BackingDevice meter(BackingDevice b) {
    backing = new MeteredBackingDevice(b);
    return backing;
  }

  /** Meters the engine's requests; hand the result to the front-end. */
  public synchronized BlockDevice meter(CacheEngine e) {
    engine = e;
    device = new MeteredBlockDevice(e);
    return device;
  }

  /**
   * Builds the groups of everything metered so far plus {@code frontend}, registers their MBeans
   * and starts the Prometheus endpoint if configured; logs one line saying where to look.
   *
   * @throws IOException when the endpoint cannot listen or an MBean cannot be registered
   */
  public synchronized void start(Frontend frontend, String frontendName) throws IOException {
    if (engine != null) {
      groups.add(new MetricGroup("Cache", Map.of("name", engine.name()), this::collectCache));
    }
    if (frontend != null) {
      groups.add(new MetricGroup("Frontend", Map.of("name", frontendName), sink -> collectFrontend(frontend, sink)));
    }
    if (media != null) {
      MeteredCacheMedia m = media;
      groups.add(new MetricGroup("Device", labels("media", m.name()), sink -> collectOps(m.meters(), sink)));
    }
    if (backing != null) {
      MeteredBackingDevice b = backing;
      groups.add(new MetricGroup("Device", labels("backing", b.name()), sink -> collectOps(b.meters(), sink)));
    }
    try {
      if (jmx) {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        for (MetricGroup g : groups) {
          ObjectName name = g.objectName();
          server.registerMBean(new GroupMBean(g), name);
          registered.add(name);
        }
      }
      if (prometheus != null) {
        endpoint = PrometheusEndpoint.start(prometheus, this::scrape);
      }
    } catch (JMException e) {
      close();
      throw new IOException("cannot register pcache's MBeans: " + e.getMessage() + " (set " + JMX + "=false to go without)", e);
    } catch (IOException | RuntimeException e) {
      close();
      throw e;
    }
    LOG.info("metrics: {}; {}", jmx ? "JMX " + MetricGroup.DOMAIN + ":type=Cache|Frontend|Device (" + registered.size()
        + " MBeans)" : "JMX off (" + JMX + ")", endpoint != null ? "Prometheus " + endpoint.uri()
        : "Prometheus endpoint off (" + PROMETHEUS_LISTEN + ")");
  }

  private static Map<String, String> labels(String role, String name) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("role", role);
    m.put("name", name);
    return m;
  }

  /** Every group, in the order of {@link #start}. */
  public List<MetricGroup> groups() {
    return List.copyOf(groups);
  }

  /** The Prometheus exposition of every group, as the endpoint serves it. */
  public String scrape() {
    return PrometheusFormat.write(groups);
  }

  /** Where Prometheus scrapes, once started with an endpoint. */
  public synchronized Optional<URI> prometheusUri() {
    return endpoint == null ? Optional.empty() : Optional.of(endpoint.uri());
  }

  private void collectCache(MetricSource.Sink sink) {
    Map<String, Long> counters = engine.counters();
    counters.forEach((k, v) -> {
      String help = HELP.getOrDefault(k, "Engine counter " + k);
      if (GAUGES.contains(k)) {
        sink.gauge(k, null, help, v);
      } else {
        sink.counter(k, null, help, v);
      }
    });
    long now = System.nanoTime();
    sink.gauge("writeback_bytes_per_second", null, "Bytes written back per second, over the last second or more"
        + " between two readings", writebackBytesRate.update(counters.getOrDefault("writeback_bytes", 0L), now));
    sink.gauge("gc_segments_freed_per_second", null, "Segments freed by GC per second, over the last second or more"
        + " between two readings", gcSegmentsRate.update(counters.getOrDefault("gc_segments_freed", 0L), now));
    for (OpMeter m : device.meters()) {
      sink.histogram("request_duration", m.op(), "Latency of completed requests as the front-end sees them",
          m.latency().snapshot());
    }
    for (OpMeter m : device.meters()) {
      sink.counter("request_bytes", m.op(), "Bytes of completed requests", m.bytes());
    }
    for (OpMeter m : device.meters()) {
      sink.counter("request_errors", m.op(), "Requests that failed (an error returned to the front-end)", m.errors());
    }
  }

  private static void collectFrontend(Frontend frontend, MetricSource.Sink sink) {
    frontend.metrics().forEach((k, v) -> {
      if (k.endsWith("_total")) {
        String name = k.substring(0, k.length() - "_total".length());
        sink.counter(name, null, "Front-end counter " + name, v);
      } else {
        sink.gauge(k, null, "Front-end gauge " + k, v);
      }
    });
  }

  private static void collectOps(List<OpMeter> meters, MetricSource.Sink sink) {
    for (OpMeter m : meters) {
      sink.counter("operations", m.op(), "Completed operations", m.count());
    }
    for (OpMeter m : meters) {
      sink.counter("bytes", m.op(), "Bytes moved by completed operations", m.bytes());
    }
    for (OpMeter m : meters) {
      sink.counter("errors", m.op(), "Operations that failed", m.errors());
    }
    for (OpMeter m : meters) {
      if (m.timed()) {
        sink.histogram("request_duration", m.op(), "Latency of completed operations", m.latency().snapshot());
      }
    }
  }

  /** Stops the endpoint and unregisters the MBeans. Idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (endpoint != null) {
      endpoint.close();
    }
    MBeanServer server = ManagementFactory.getPlatformMBeanServer();
    for (ObjectName n : registered) {
      try {
        server.unregisterMBean(n);
      } catch (JMException e) {
        LOG.warn("cannot unregister the MBean {}: {}", n, e.getMessage());
      }
    }
    registered.clear();
  }
}
