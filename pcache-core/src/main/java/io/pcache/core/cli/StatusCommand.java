package io.pcache.core.cli;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.engine.Inspector;
import io.pcache.core.inject.Devices;
import jakarta.inject.Inject;

/**
 * {@code pcache status [--cache SPEC]}: the dm-pcache status line of a cache device and what its
 * log holds, read offline (the device must not be in use by a running pcache).
 */
public final class StatusCommand implements Command {

  private final Devices devices;
  private final Output output;

  @Inject
  public StatusCommand(Devices devices, Output output) {
    this.devices = devices;
    this.output = output;
  }

  @Override
  public int run(CommandLine line) throws Exception {
    try (CacheMedia media = devices.openMedia(false, true)) {
      Inspector.Report r = new Inspector(media).inspect(false, null);
      output.out().println(r.statusLine());
      output.out().println("# sb_flags seg_num cache_segs segs_used gc_percent cache_flags key_head dirty_tail key_tail");
      output.out().printf("cache %s: %d of %d segments used, data_crc %s, persistence %s%n", media.name(), r.segsUsed(),
          r.nSegs(), r.dataCrc() ? "on" : "off", media.persistenceDomain().name().toLowerCase(java.util.Locale.ROOT));
      output.out().printf("log: %d ksets, %d keys (%d stale), dirty %d keys %s, clean %s%n", r.ksets(), r.keys(),
          r.staleKeys(), r.dirtyKeys(), Progress.bytes(r.dirtyBytes()), Progress.bytes(r.cleanBytes()));
      for (String p : r.problems()) {
        output.out().println("problem: " + p);
      }
      for (String w : r.warnings()) {
        output.out().println("warning: " + w);
      }
      return r.ok() ? 0 : 1;
    }
  }
}
