package io.pcache.frontend.ublk;

import io.pcache.api.BlockDevice;
import io.pcache.api.Config;
import io.pcache.api.ConfigKey;
import io.pcache.api.frontend.Frontend;
import io.pcache.api.frontend.FrontendProvider;
import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * The {@code ublk} front-end: serves the cached device as a Linux block device {@code
 * /dev/ublkbN} through the ublk driver (Linux 6.0 and newer, {@code modprobe ublk_drv}), with one
 * io_uring per hardware queue. Needs root (CAP_SYS_ADMIN).
 *
 * <h2>Configuration</h2>
 *
 * <table>
 *   <caption>Keys</caption>
 *   <tr><th>key</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>{@code ublk.dev-id}</td><td>{@code -1}</td><td>the N of /dev/ublkbN; -1: the kernel chooses</td></tr>
 *   <tr><td>{@code ublk.queues}</td><td>{@code 1}</td><td>hardware queues (threads with a ring each)</td></tr>
 *   <tr><td>{@code ublk.queue-depth}</td><td>{@code 64}</td><td>requests in flight per queue</td></tr>
 *   <tr><td>{@code ublk.max-io}</td><td>{@code 512K}</td><td>largest request; native memory is
 *       queues x depth x max-io</td></tr>
 * </table>
 *
 * <p>The launcher must grant native access to this module ({@code
 * --enable-native-access=io.pcache.frontend.ublk,org.jnrproject.jffi}); {@code bin/pcache} does
 * when the jar is in {@code lib/}.
 */
public final class UblkFrontendProvider implements FrontendProvider {

  private static final List<ConfigKey> KEYS = List.of(
      ConfigKey.integer(UblkSettings.DEV_ID, -1, -1, 1 << 20,
          "The ublk device id: N serves /dev/ublkbN; -1 lets the kernel choose the lowest free id. A dead device of"
              + " a crashed pcache with this id is deleted at start."),
      ConfigKey.integer(UblkSettings.QUEUES, 1, 1, 4096,
          "ublk hardware queues, each served by one thread with its own io_uring (the kernel caps it at the CPU count)."),
      ConfigKey.integer(UblkSettings.QUEUE_DEPTH, 64, 1, 4096,
          "Requests each ublk queue keeps in flight; each one is served on a virtual thread of its own."),
      ConfigKey.size(UblkSettings.MAX_IO, "512K", 4096, Uapi.MAX_IO_BUF_BYTES,
          "The largest ublk request (a multiple of 4K); each tag owns a buffer of this size, so native memory is"
              + " queues x queue-depth x max-io."));

  private final UblkSys sys;

  public UblkFrontendProvider() {
    this(NativeUblkSys.INSTANCE);
  }

  UblkFrontendProvider(UblkSys sys) {
    this.sys = sys;
  }

  @Override
  public String name() {
    return "ublk";
  }

  @Override
  public String description() {
    return "Linux block device /dev/ublkbN through the ublk driver and io_uring (Linux 6.0+, root)";
  }

  @Override
  public List<ConfigKey> configKeys() {
    return KEYS;
  }

  /** Missing driver, control node, privilege or native access, in one line; nothing is changed. */
  @Override
  public Optional<String> unavailableReason() {
    return availability(sys);
  }

  static Optional<String> availability(UblkSys sys) {
    String os = System.getProperty("os.name", "?");
    if (!os.startsWith("Linux")) {
      return Optional.of("ublk needs Linux (this is " + os + ")");
    }
    String nativeFailure = sys.nativeFailure();
    if (nativeFailure != null) {
      return Optional.of(nativeFailure);
    }
    if (!sys.exists(UblkControl.CONTROL_PATH)) {
      if (sys.exists("/sys/module/ublk_drv")) {
        return Optional.of("the ublk driver is loaded but " + UblkControl.CONTROL_PATH
            + " is missing (is devtmpfs mounted on /dev, or udev running?)");
      }
      return Optional.of("the ublk driver is not loaded: run 'modprobe ublk_drv' as root (Linux 6.0 or newer built"
          + " with CONFIG_BLK_DEV_UBLK)");
    }
    int fd = sys.open(UblkControl.CONTROL_PATH);
    if (fd < 0) {
      return Optional.of(UblkControl.openFailure(sys, -fd));
    }
    sys.close(fd);
    if (!sys.hasCapSysAdmin()) {
      return Optional.of("not privileged: the ublk control commands need CAP_SYS_ADMIN (run pcache as root)");
    }
    return Optional.empty();
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalArgumentException for settings out of range
   */
  @Override
  public Frontend create(BlockDevice device, Config config) throws IOException {
    return new UblkFrontend(device, UblkSettings.from(config), sys);
  }
}
