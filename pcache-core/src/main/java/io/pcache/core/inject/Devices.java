package io.pcache.core.inject;

import io.pcache.api.Config;
import io.pcache.api.DeviceSpec;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingOptions;
import io.pcache.api.gc.GcPolicy;
import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.core.config.CoreKeys;
import io.pcache.core.config.Values;
import io.pcache.core.engine.EngineOptions;
import io.pcache.core.plugin.PluginRegistry;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Opens what the configuration names: the cache media, the backing device, the GC policy, and
 * the engine options. Creates the data directory for the default files on first use.
 */
public final class Devices {

  private static final System.Logger LOG = System.getLogger("io.pcache");

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

  /**
   * Opens the backing device.
   *
   * <p>With {@code create}, a missing image file is created sparse with {@code backing.size}
   * bytes only where that is surely what the user meant, and logged at INFO with its path and
   * size:
   *
   * <ul>
   *   <li>the built-in default, {@code file:${data.dir}/backing.img} ({@code backing.device} not
   *       set), at the first start of a fresh installation;
   *   <li>any other path when {@code backing.size} was given explicitly (flag, file, environment).
   * </ul>
   *
   * Any other missing path is refused with an {@link IOException} naming it: a typo in {@code
   * --backing} must not become an empty disk that pcache then caches writes for. Without {@code
   * create} (drain) nothing is ever created. A missing device is what the provider reports with
   * {@link NoSuchFileException}, so locations that are no file paths work as before.
   *
   * @param create whether a missing image may be created (see above)
   * @throws IOException when the device is missing and may not be created, or cannot be opened
   */
  public BackingDevice openBacking(boolean create, boolean readOnly) throws IOException {
    DeviceSpec spec = backingSpec();
    boolean defaultDevice = config.sourceOf(CoreKeys.BACKING_DEVICE).equals("default");
    boolean sizeGiven = !config.sourceOf(CoreKeys.BACKING_SIZE).equals("default");
    boolean mayCreate = create && !readOnly && (defaultDevice || sizeGiven);
    long createSize = mayCreate ? config.getSize(CoreKeys.BACKING_SIZE) : 0;
    boolean existed = !mayCreate || isFile(spec);
    if (mayCreate) {
      ensureDataDir(spec);
    }
    BackingOptions options = new BackingOptions(createSize, config.getBoolean(CoreKeys.BACKING_DIRECT_IO), readOnly);
    BackingDevice device;
    try {
      device = registry.backing(spec).open(spec.location(), options);
    } catch (NoSuchFileException e) {
      if (mayCreate) {
        throw e;
      }
      throw new io.pcache.core.config.ConfigException("backing device " + spec + " does not exist: check the path" + (create && !readOnly
          ? ", or give its size (for example --backing.size 8G) to create a sparse image file there" : ""), e);
    }
    if (!existed && isFile(spec)) {
      LOG.log(System.Logger.Level.INFO, "created the backing image " + spec.path().toAbsolutePath() + ": "
          + Values.human(createSize) + " (" + createSize + " bytes), sparse");
    }
    return device;
  }

  /** Whether the spec's location is an existing file (false for a location that is no path). */
  private static boolean isFile(DeviceSpec spec) {
    try {
      return Files.exists(spec.path());
    } catch (InvalidPathException e) {
      return false;
    }
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
