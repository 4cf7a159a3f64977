package io.pcache.core.cli;

import io.pcache.api.Config;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.frontend.Frontend;
import io.pcache.api.frontend.FrontendProvider;
import io.pcache.api.media.CacheMedia;
import io.pcache.core.config.CoreKeys;
import io.pcache.core.control.ControlServer;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.inject.Devices;
import io.pcache.core.metrics.Metrics;
import io.pcache.core.plugin.PluginRegistry;
import io.pcache.core.systemd.SdNotify;
import jakarta.inject.Inject;
import java.util.concurrent.CountDownLatch;

/**
 * {@code pcache run}: the main job. Opens (creating on first start) the cache media and the
 * backing device (a missing backing image only as {@link Devices#openBacking} allows), formats a blank cache or replays an existing one, starts the configured
 * front-end and serves until SIGTERM or Ctrl-C; then stops the front-end (requests in flight
 * finish), closes every open kset, flushes the backing device and releases the devices.
 */
public final class RunCommand implements Command {

  private static final System.Logger LOG = System.getLogger("io.pcache");

  private final Devices devices;
  private final PluginRegistry registry;
  private final Config config;

  @Inject
  public RunCommand(Devices devices, PluginRegistry registry, Config config) {
    this.devices = devices;
    this.registry = registry;
    this.config = config;
  }

  @Override
  public int run(CommandLine line) throws Exception {
    FrontendProvider frontendProvider = registry.frontend(config.get(CoreKeys.FRONTEND));
    frontendProvider.unavailableReason().ifPresent(reason -> {
      throw new IllegalStateException("front-end " + frontendProvider.name() + " cannot run here: " + reason);
    });
    Metrics metrics = Metrics.create(config);
    CacheMedia media = metrics.meter(devices.openMedia(true, false));
    BackingDevice backing;
    CacheEngine engine;
    try {
      backing = metrics.meter(devices.openBacking(true, false));
    } catch (Exception e) {
      media.close();
      throw e;
    }
    try {
      engine = CacheEngine.open(media, backing, devices.engineOptions(), devices.gcPolicy());
    } catch (Exception e) {
      backing.close();
      media.close();
      throw e;
    }
    CacheEngine.ReplayReport replay = engine.replayReport();
    LOG.log(System.Logger.Level.INFO, (replay.formatted() ? "formatted a new cache on " + media.name() + "; " : "")
        + "replayed " + replay.ksets() + " ksets, " + replay.keys() + " keys (" + replay.staleKeys() + " stale, "
        + replay.badKeys() + " bad" + (replay.repairedKsets() > 0 ? ", " + replay.repairedKsets() + " ksets repaired" : "")
        + (replay.droppedKeys() > 0 ? ", " + replay.droppedKeys() + " keys dropped by --recover-log cut" : "")
        + ") in " + replay.nanos() / 1_000_000 + " ms; status " + engine.statusLine());
    java.util.Optional<ControlServer> control;
    try {
      control = ControlServer.start(engine, config);
    } catch (Exception e) {
      engine.close();
      backing.close();
      media.close();
      throw e;
    }
    Frontend frontend = frontendProvider.create(metrics.meter(engine), config);
    CountDownLatch stopped = new CountDownLatch(1);
    Thread shutdown = Thread.ofPlatform().name("pcache-shutdown").unstarted(() -> {
      SdNotify.notify("STOPPING=1");
      LOG.log(System.Logger.Level.INFO, "shutting down: stopping the front-end, closing ksets, flushing "
          + backing.name());
      control.ifPresent(ControlServer::close);
      try {
        frontend.close();
      } catch (Exception e) {
        LOG.log(System.Logger.Level.WARNING, "front-end stop: " + e.getMessage());
      }
      metrics.close();
      try {
        engine.close();
      } catch (Exception e) {
        LOG.log(System.Logger.Level.ERROR, "cache close: " + e.getMessage());
      }
      String status = engine.statusLine();
      try {
        backing.close();
        media.close();
      } catch (Exception e) {
        LOG.log(System.Logger.Level.WARNING, "device close: " + e.getMessage());
      }
      LOG.log(System.Logger.Level.INFO, "stopped; status " + status);
      stopped.countDown();
    });
    Runtime.getRuntime().addShutdownHook(shutdown);
    metrics.start(frontend, frontendProvider.name());
    frontend.start();
    LOG.log(System.Logger.Level.INFO, "serving " + engine.name() + " (" + engine.size() + " bytes) via "
        + frontendProvider.name() + ": " + String.join(", ", frontend.endpoints()));
    SdNotify.notify("READY=1\nSTATUS=serving " + String.join(", ", frontend.endpoints()));
    stopped.await();
    return 0;
  }
}
