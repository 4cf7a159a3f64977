package io.pcache.core.config;

import io.pcache.api.ConfigKey;
import java.util.List;

/**
 * The configuration keys of pcache-core itself: which devices to use and how the engine behaves.
 * Providers declare their own keys ({@code nbd.*}, {@code gc.threshold.*}, ...).
 */
public final class CoreKeys {

  private CoreKeys() {}

  public static final String DATA_DIR = "data.dir";
  public static final String CACHE_DEVICE = "cache.device";
  public static final String CACHE_SIZE = "cache.size";
  public static final String CACHE_DATA_CRC = "cache.data-crc";
  public static final String CACHE_GC_POLICY = "cache.gc-policy";
  public static final String CACHE_RECOVER_LOG = "cache.recover-log";
  public static final String BACKING_CHANGED = "backing.changed";
  public static final String KSET_FLUSH_DELAY = "cache.kset-flush-delay";
  public static final String BACKING_DEVICE = "backing.device";
  public static final String BACKING_SIZE = "backing.size";
  public static final String BACKING_DIRECT_IO = "backing.direct-io";
  public static final String FRONTEND = "frontend";
  public static final String CACHE_FULL_WAIT = "cache.full-wait";
  public static final String WRITEBACK_BATCH = "writeback.batch-ksets";
  public static final String WRITEBACK_IN_FLIGHT = "writeback.in-flight";
  public static final String WRITEBACK_RATE = "writeback.rate";
  public static final String WRITEBACK_DIRTY_PERCENT = "writeback.dirty-percent";
  public static final String GC_INTERVAL = "gc.interval";
  public static final String CONTROL_SOCKET = "control.socket";
  public static final String METRICS_JMX = "metrics.jmx";
  public static final String METRICS_PROMETHEUS_LISTEN = "metrics.prometheus.listen";

  /** dm-pcache refuses cache devices smaller than 512 MiB (PCACHE_CACHE_DEV_SIZE_MIN). */
  public static final long MIN_CACHE_SIZE = 512L << 20;

  public static List<ConfigKey> all() {
    return List.of(
        ConfigKey.path(DATA_DIR, "data",
            "Directory for the default cache file and backing image; relative paths are relative to the installation directory."),
        ConfigKey.device(CACHE_DEVICE, "file:${data.dir}/cache.img",
            "The cache media: file:PATH (regular or tmpfs file), dax:PATH (persistent memory), or a bare path."),
        ConfigKey.size(CACHE_SIZE, "1G", MIN_CACHE_SIZE, 16L << 40,
            "Size of the cache media when pcache creates it (at least 512M, as dm-pcache requires)."),
        ConfigKey.bool(CACHE_DATA_CRC, true,
            "Keep a CRC32C of every cached extent and check it on replay, writeback, GC and cache hits. Fixed at format"
                + " time: applies to a new cache; an existing cache keeps what it was formatted with unless this is set"
                + " explicitly, and then a cache formatted the other way is refused."),
        ConfigKey.choice(CACHE_RECOVER_LOG, "refuse", List.of("refuse", "cut"),
            "What 'pcache run' does when the kset log is corrupt in the middle (valid ksets follow a bad one):"
                + " refuse to start (default), or cut the log at the bad kset, dropping the keys from there on"
                + " (logged as an ERROR with their count). A torn last kset after a power cut is the normal end of the log."),
        ConfigKey.string(CACHE_GC_POLICY, "threshold",
            "The GC policy: threshold (dm-pcache's gc_percent), watermark, or one from a plugin; 'pcache plugins' lists them."),
        ConfigKey.duration(KSET_FLUSH_DELAY, "1s",
            "How long an open kset may hold keys before it is closed and persisted, as dm-pcache's 1 s delay."),
        ConfigKey.device(BACKING_DEVICE, "file:${data.dir}/backing.img",
            "The backing device: block:/dev/sdX (block device), file:PATH (image file), or a bare path."),
        ConfigKey.size(BACKING_SIZE, "4G", 1L << 20, Long.MAX_VALUE,
            "Size of the backing image when pcache creates it (sparse); an existing device keeps its size. 'pcache run'"
                + " creates only the default image (backing.device not set) by itself; a missing backing.device is"
                + " created only when this key is given explicitly, and refused otherwise (a mistyped path is an error)."),
        ConfigKey.choice(BACKING_CHANGED, "refuse", List.of("refuse", "accept"),
            "What 'pcache run' does when the cache holds dirty data for another backing device than the one given:"
                + " refuse to start (default), or accept it and write that data to this backing device (logged as a WARN)."),
        ConfigKey.bool(BACKING_DIRECT_IO, false,
            "Open the backing device with O_DIRECT (bypass the page cache)."),
        ConfigKey.string(FRONTEND, "nbd",
            "How the cached device is served: nbd or ublk (or a front-end from a plugin)."),
        ConfigKey.duration(CACHE_FULL_WAIT, "5m",
            "How long a write waits for space when the cache is full before it fails with EIO (writes never fail sooner)."),
        ConfigKey.integer(WRITEBACK_BATCH, 16, 1, 4096,
            "Keys written back between two flushes of the backing device, in full ksets of 128 keys: ksets closed early by a FLUSH or FUA count by their keys (dm-pcache: one kset)."),
        ConfigKey.integer(WRITEBACK_IN_FLIGHT, 64, 1, 4096, "Backing-device writes writeback keeps in flight."),
        ConfigKey.size(WRITEBACK_RATE, "0", 0, Long.MAX_VALUE,
            "Writeback rate limit in bytes per second (for example 100M); 0 for no limit."),
        ConfigKey.integer(WRITEBACK_DIRTY_PERCENT, 0, 0, 90,
            "How much of the cache (percent of its data space) may stay dirty while writes keep coming: writeback holds back"
                + " until dirty data passes it, and writes everything back after a second without writes or on a drain."
                + " 0 writes back at once (dm-pcache); bcache's writeback_percent, dm-writecache's high_watermark."
                + " Keep it below the GC percentage."),
        ConfigKey.duration(GC_INTERVAL, "1s", "How often GC looks at the cache when nothing else wakes it (dm-pcache: 5 s)."),
        ConfigKey.path(CONTROL_SOCKET, "${data.dir}/pcache.sock",
            "Unix socket through which 'pcache status', 'pcache ctl' and 'pcache drain' reach a running pcache (owner-only, mode 0600); empty turns it off."),
        ConfigKey.bool(METRICS_JMX, true,
            "Register pcache's MBeans (io.pcache:type=Cache|Frontend|Device) with the JVM's platform MBean server."),
        ConfigKey.string(METRICS_PROMETHEUS_LISTEN, "",
            "Serve Prometheus metrics at http://ADDRESS/metrics: a port (binds 127.0.0.1) or host:port; empty for off."
                + " No TLS, no authentication: bind a non-loopback address only on a trusted network."));
  }
}
