package io.pcache.core.cli;

import io.pcache.api.Config;
import io.pcache.api.media.CacheMedia;
import io.pcache.core.config.ConfigException;
import io.pcache.core.config.CoreKeys;
import io.pcache.core.engine.CacheFormat;
import io.pcache.core.format.Layout;
import io.pcache.core.inject.Devices;
import jakarta.inject.Inject;

/**
 * {@code pcache format [--data-crc] [--force] --cache SPEC}: writes a new, empty cache. Without
 * {@code --force} it refuses media that already holds a pcache or any non-zero byte in its
 * superblock area, naming what it found.
 */
public final class FormatCommand implements Command {

  private final Devices devices;
  private final Config config;
  private final Output output;

  @Inject
  public FormatCommand(Devices devices, Config config, Output output) {
    this.devices = devices;
    this.config = config;
    this.output = output;
  }

  @Override
  public int run(CommandLine line) throws Exception {
    boolean force = line.switches().contains("force");
    boolean dataCrc = config.getBoolean(CoreKeys.CACHE_DATA_CRC);
    int percent = Layout.GC_PERCENT_DEFAULT;
    try {
      percent = config.getInt("gc.threshold.percent");
    } catch (IllegalArgumentException e) {
      // no threshold policy installed: dm-pcache's default
    }
    try (CacheMedia media = devices.openMedia(true, false, true)) {
      if (!force) {
        CacheFormat.State state;
        try {
          state = CacheFormat.inspect(media);
        } catch (java.io.IOException e) {
          throw new ConfigException(e.getMessage().startsWith("cache " + media.name() + " is ")
              ? e.getMessage() : "cache " + media.name() + " holds other data (" + e.getMessage()
              + "); 'pcache format --force' overwrites it");
        }
        if (state == CacheFormat.State.PCACHE) {
          throw new ConfigException("cache " + media.name() + " already holds a pcache; 'pcache format --force' overwrites it"
              + " (every cached and dirty byte in it is lost: drain it first with 'pcache drain')");
        }
      }
      CacheFormat.format(media, dataCrc, percent);
      long segs = Layout.segmentsFor(media.size());
      output.out().println("formatted " + media.name() + ": " + segs + " segments of 16 MiB ("
          + Progress.bytes(segs * Layout.SEG_DATA_SIZE) + " for data and keys), data_crc " + (dataCrc ? "on" : "off")
          + ", gc_percent " + percent + ", persistence " + media.persistenceDomain().name().toLowerCase(java.util.Locale.ROOT));
    }
    return 0;
  }
}
