package io.pcache.core.cli;

import io.pcache.api.Config;
import io.pcache.api.media.CacheMedia;
import io.pcache.core.control.ControlClient;
import io.pcache.core.engine.Inspector;
import io.pcache.core.format.BackingRecord;
import io.pcache.core.inject.Devices;
import jakarta.inject.Inject;
import java.util.List;

/**
 * {@code pcache status [--cache SPEC]}: the dm-pcache status line of a cache and its counters.
 * When a running pcache serves the cache, it answers through its control socket (live: the
 * engine's own counters); otherwise the device is read offline (it must not be in use). The
 * output says which.
 */
public final class StatusCommand implements Command {

  static final String HEADER = "# sb_flags seg_num cache_segs segs_used gc_percent cache_flags key_head dirty_tail key_tail";

  private final Devices devices;
  private final Output output;
  private final Config config;

  @Inject
  public StatusCommand(Devices devices, Output output, Config config) {
    this.devices = devices;
    this.output = output;
    this.config = config;
  }

  @Override
  public int run(CommandLine line) throws Exception {
    Live live = Live.find(config, true);
    if (live.client().isPresent()) {
      try (ControlClient client = live.client().get()) {
        return live(client);
      }
    }
    return offline(live.why());
  }

  private int live(ControlClient client) throws Exception {
    ControlClient.Reply r = client.call("status");
    if (!r.ok()) {
      output.err().println("pcache: status from " + client.path() + ": " + r.message());
      return 1;
    }
    List<String> lines = r.lines();
    String pid = field(lines, "pid");
    output.out().println(field(lines, "status"));
    output.out().println(HEADER);
    output.out().println("live: pcache (pid " + pid + ") answering on " + client.path());
    output.out().println("cache " + field(lines, "name") + "; " + field(lines, "positions"));
    output.out().println("writeback " + field(lines, "writeback"));
    String shrink = field(lines, "backing-shrunk");
    if (!shrink.isEmpty()) {
      output.out().println(shrink);
    }
    String error = field(lines, "writeback-error");
    if (!error.isEmpty()) {
      output.out().println("writeback error (retrying): " + error);
    }
    output.out().println("gc " + field(lines, "gc"));
    output.out().println("counters:");
    for (String l : lines) {
      if (l.startsWith("counter ")) {
        String[] w = l.split(" ", 3);
        output.out().printf("  %-20s %s%n", w[1], w[2]);
      }
    }
    return 0;
  }

  /** The rest of the first data line that starts with {@code tag}, or an empty string. */
  static String field(List<String> lines, String tag) {
    return lines.stream().filter(l -> l.startsWith(tag + " ")).map(l -> l.substring(tag.length() + 1)).findFirst()
        .orElse("");
  }

  private int offline(String why) throws Exception {
    try (CacheMedia media = devices.openMedia(false, true)) {
      Inspector.Report r = new Inspector(media).inspect(false, null);
      output.out().println(r.statusLine());
      output.out().println(HEADER);
      output.out().println("offline: read from the device (" + why + ")");
      output.out().printf("cache %s: %d of %d segments used, data_crc %s, persistence %s%n", media.name(), r.segsUsed(),
          r.nSegs(), r.dataCrc() ? "on" : "off", media.persistenceDomain().name().toLowerCase(java.util.Locale.ROOT));
      output.out().printf("log: %d ksets, %d keys (%d stale), dirty %d keys %s, clean %s%n", r.ksets(), r.keys(),
          r.staleKeys(), r.dirtyKeys(), Progress.bytes(r.dirtyBytes()), Progress.bytes(r.cleanBytes()));
      output.out().println(BackingRecord.describe(BackingRecord.load(media)));
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
