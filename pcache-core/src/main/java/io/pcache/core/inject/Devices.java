package io.pcache.core.inject;

import io.pcache.api.Config;
import io.pcache.api.DeviceSpec;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingOptions;
import io.pcache.api.gc.GcPolicy;
import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.core.config.CoreKeys;
import io.pcache.core.engine.EngineOptions;
import io.pcache.core.plugin.PluginRegistry;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Opens what the configuration names: the cache media, the backing device, the GC policy, and
 * the engine options. Creates the data directory for the default files on first use.
 */
public final class Devices {

  private final PluginRegistry registry;
  private final Config config;

  @Inject
  public Devices(PluginRegistry registry, Config config) {
    this.registry = registry;
    this.config = config;
  }

  /** The cache media spec: {@code cache.device}. */
  public DeviceSpec mediaSpec() {
    return config.getDevice(CoreKeys.CACHE_DEVICE);
  }

  public DeviceSpec backingSpec() {
    return config.getDevice(CoreKeys.BACKING_DEVICE);
  }

  /** Opens (creating with {@code cache.size} if asked and missing) the cache media. */
  public CacheMedia openMedia(boolean create, boolean readOnly) throws IOException {
    return openMedia(create, readOnly, false);
  }

  /**
   * Opens the cache media.
   *
   * @param create create it with {@code cache.size} when it does not exist
   * @param anySize an existing file is opened at whatever size it has (format), instead of being
   *     refused when it differs from {@code cache.size} (run)
   */
  public CacheMedia openMedia(boolean create, boolean readOnly, boolean anySize) throws IOException {
    DeviceSpec spec = mediaSpec();
    if (create) {
      ensureDataDir(spec);
    }
    boolean exists = Files.exists(spec.path());
    long createSize = create && !(anySize && exists) ? config.getSize(CoreKeys.CACHE_SIZE) : 0;
    MediaOptions options = new MediaOptions(createSize, readOnly);
    return registry.media(spec).open(spec.location(), options);
  }

  /** Opens (creating a sparse image of {@code backing.size} if asked and missing) the backing device. */
  public BackingDevice openBacking(boolean create, boolean readOnly) throws IOException {
    DeviceSpec spec = backingSpec();
    if (create) {
      ensureDataDir(spec);
    }
    BackingOptions options = new BackingOptions(create ? config.getSize(CoreKeys.BACKING_SIZE) : 0,
        config.getBoolean(CoreKeys.BACKING_DIRECT_IO), readOnly);
    return registry.backing(spec).open(spec.location(), options);
  }

  public GcPolicy gcPolicy() {
    return registry.gcPolicy(config.get(CoreKeys.CACHE_GC_POLICY)).create(config);
  }

  /** The engine options from the configuration. */
  public EngineOptions engineOptions() {
    boolean explicitPercent = config.get(CoreKeys.CACHE_GC_POLICY).equals("threshold")
        && hasKey("gc.threshold.percent") && !config.sourceOf("gc.threshold.percent").equals("default");
    EngineOptions options = EngineOptions.defaults()
        .withDataCrcDefault(config.getBoolean(CoreKeys.CACHE_DATA_CRC))
        .withKsetFlushDelay(config.getDuration(CoreKeys.KSET_FLUSH_DELAY))
        .withFullWait(config.getDuration(CoreKeys.CACHE_FULL_WAIT))
        .withWritebackBatchKsets(config.getInt(CoreKeys.WRITEBACK_BATCH))
        .withWritebackInFlight(config.getInt(CoreKeys.WRITEBACK_IN_FLIGHT))
        .withWritebackRate(config.getSize(CoreKeys.WRITEBACK_RATE))
        .withWritebackDirtyPercent(config.getInt(CoreKeys.WRITEBACK_DIRTY_PERCENT))
        .withGcInterval(config.getDuration(CoreKeys.GC_INTERVAL))
        .withGcPercentExplicit(explicitPercent)
        .withRecoverLog(config.get(CoreKeys.CACHE_RECOVER_LOG).equals("cut")
            ? EngineOptions.RecoverLog.CUT : EngineOptions.RecoverLog.REFUSE)
        .withAcceptBackingChange(config.get(CoreKeys.BACKING_CHANGED).equals("accept"));
    // cache.data-crc given by the user (flag, file, environment) must match an existing cache;
    // its default applies to a new format only.
    return config.sourceOf(CoreKeys.CACHE_DATA_CRC).equals("default") ? options
        : options.withDataCrc(options.dataCrc());
  }

  private boolean hasKey(String key) {
    try {
      config.sourceOf(key);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /** Creates the parent directory of a file spec that lies under {@code data.dir}. */
  private void ensureDataDir(DeviceSpec spec) throws IOException {
    Path dataDir = config.getPath(CoreKeys.DATA_DIR);
    Path parent = spec.path().toAbsolutePath().getParent();
    if (parent != null && parent.normalize().startsWith(dataDir.normalize()) && !Files.isDirectory(parent)) {
      Files.createDirectories(parent);
    }
  }
}
