package io.pcache.core.cli;

import io.pcache.api.backing.BackingDevice;
import io.pcache.api.media.CacheMedia;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.inject.Devices;
import jakarta.inject.Inject;
import java.time.Duration;

/**
 * {@code pcache drain [--cache SPEC] [--backing SPEC]}: opens the cache offline, writes every
 * dirty byte back to the backing device with a progress bar, flushes the backing device and
 * returns when it holds everything (key_head == dirty_tail, as dm-pcache's drain with gc_percent 0
 * waits for). The cache keeps its clean data.
 */
public final class DrainCommand implements Command {

  private final Devices devices;
  private final Output output;

  @Inject
  public DrainCommand(Devices devices, Output output) {
    this.devices = devices;
    this.output = output;
  }

  @Override
  public int run(CommandLine line) throws Exception {
    try (CacheMedia media = devices.openMedia(false, false);
        BackingDevice backing = devices.openBacking(false, false)) {
      return drain(media, backing);
    }
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
