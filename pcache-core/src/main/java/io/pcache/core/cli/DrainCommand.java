package io.pcache.core.cli;

import io.pcache.api.Config;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.media.CacheMedia;
import io.pcache.core.control.ControlClient;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.inject.Devices;
import jakarta.inject.Inject;
import java.time.Duration;

/**
 * {@code pcache drain [--cache SPEC] [--backing SPEC]}: writes every dirty byte back to the backing
 * device with a progress bar, flushes the backing device and returns when it holds everything
 * (key_head == dirty_tail, as dm-pcache's drain with gc_percent 0 waits for). The cache keeps its
 * clean data.
 *
 * <p>When a running pcache serves the cache, the drain happens there, through its control socket,
 * while it keeps serving: everything written before the drain started is on the backing device
 * when this returns (later writes are not waited for). Otherwise the cache is opened offline.
 */
public final class DrainCommand implements Command {

  private final Devices devices;
  private final Output output;
  private final Config config;

  @Inject
  public DrainCommand(Devices devices, Output output, Config config) {
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
    output.err().println("pcache: draining offline (" + live.why() + ")");
    try (CacheMedia media = devices.openMedia(false, false);
        BackingDevice backing = devices.openBacking(false, false)) {
      return drain(media, backing);
    }
  }

  /** The drain in the running pcache; progress lines become the progress bar. */
  private int live(ControlClient client) throws Exception {
    output.err().println("pcache: draining the running pcache through " + client.path() + " (it keeps serving)");
    Progress progress = new Progress(output.err(), "written back");
    String[] drained = {""};
    boolean[] pausedSaid = {false};
    ControlClient.Reply r = client.call("drain", l -> {
      if (l.startsWith("progress ")) {
        String[] w = l.split(" ");
        long doneKsets = Long.parseLong(w[1]);
        long totalKsets = Long.parseLong(w[2]);
        long total = Long.parseLong(w[4]);
        long done = totalKsets == 0 ? total : Math.min(total, Long.parseLong(w[3]));
        progress.update(done, total);
        if (w.length > 5 && w[5].equals("paused") && doneKsets < totalKsets && !pausedSaid[0]) {
          pausedSaid[0] = true;
          output.err().println();
          output.err().println("pcache: writeback was paused meanwhile; waiting ('pcache ctl writeback resume')");
        }
      } else if (l.startsWith("retrying ")) {
        output.err().println();
        output.err().println("pcache: writeback is retrying: " + l.substring(9));
      } else if (l.startsWith("note ")) {
        output.err().println("pcache: " + l.substring(5));
      } else if (l.startsWith("drained ")) {
        drained[0] = l.substring(8);
      }
    });
    progress.done();
    if (!r.ok()) {
      output.err().println("pcache: drain: " + r.message());
      return r.status() == ControlClient.Status.INVALID ? 2 : 1;
    }
    output.out().println("drained the running pcache: " + drained[0]);
    return 0;
  }

  private int drain(CacheMedia media, BackingDevice backing) throws Exception {
    CacheEngine engine = CacheEngine.open(media, backing, devices.engineOptions(), devices.gcPolicy());
    try {
      engine.flush();
      long total = Math.max(0, engine.stats().snapshot().get("dirty_bytes"));
      Progress progress = new Progress(output.err(), "written back");
      long deadline = System.nanoTime() + Duration.ofHours(24).toNanos();
      while (!engine.clean()) {
        long left = Math.max(0, engine.stats().snapshot().get("dirty_bytes"));
        progress.update(Math.max(0, total - left), total);
        String error = engine.writeback().lastError();
        if (error != null) {
          output.err().println();
          output.err().println("pcache: writeback is retrying: " + error);
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("drain did not finish in 24 h; " + engine.positions());
        }
        Thread.sleep(200);
      }
      progress.update(total, total);
      progress.done();
      output.out().println("drained " + media.name() + " to " + backing.name() + ": " + Progress.bytes(total)
          + " written back; " + engine.positions());
    } finally {
      engine.close();
    }
    return 0;
  }
}
