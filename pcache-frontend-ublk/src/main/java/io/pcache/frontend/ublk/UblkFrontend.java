package io.pcache.frontend.ublk;

import io.pcache.api.BlockDevice;
import io.pcache.api.BlockDevice.Feature;
import io.pcache.api.frontend.Frontend;
import io.pcache.frontend.ublk.Uapi.DevInfo;
import io.pcache.frontend.ublk.Uapi.Params;
import io.pcache.frontend.ublk.uring.Errnos;
import io.pcache.frontend.ublk.uring.UringLayout;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A ublk device serving one {@link BlockDevice}: {@code /dev/ublkbN}.
 *
 * <h2>Life cycle</h2>
 *
 * <p>{@link #start()}: delete a dead device left by a crashed pcache (see below), ADD_DEV,
 * SET_PARAMS, open {@code /dev/ublkcN}, per queue map the descriptor array and start the queue
 * thread, which fetches every tag; then START_DEV, which returns once {@code /dev/ublkbN} exists.
 *
 * <p>{@link #close()}: STOP_DEV (the kernel waits for requests in flight, which the queue threads
 * keep serving, then aborts the fetches so that the threads end), unmap the descriptor arrays and
 * close {@code /dev/ublkcN} (DEL_DEV waits for that), DEL_DEV. If {@code /dev/ublkbN} is still
 * mounted, STOP_DEV removes it all the same (measured on 6.1: ext4 then reports I/O errors and
 * loses what it had not synced) and DEL_DEV waits until it is unmounted: a warning says so.
 *
 * <h2>Why no user recovery</h2>
 *
 * <p>{@code UBLK_F_USER_RECOVERY} (6.0+) would keep {@code /dev/ublkbN} across a server crash and
 * let the next start take it over, so a mounted file system would survive. It is deliberately not
 * used: the device advertises a volatile write cache, and a crash loses writes that were completed
 * but not yet flushed (the engine persists its index on flush and on a timer). A host that keeps
 * running believes them cached and would never learn of the loss; deleting the dead device makes
 * it visible (I/O errors, then fsck). Recovery would be sound only if every write were durable on
 * completion (no VOLATILE_CACHE, every write FUA).
 *
 * <h2>Dead devices</h2>
 *
 * <p>Without user recovery, a Linux 6.1 device whose server died stays behind, stopped, with its
 * id taken, until someone sends DEL_DEV. pcache stamps its pid into the device's {@code
 * ublksrv_flags} (kept by the kernel, returned by GET_DEV_INFO), so that the next start can
 * recognise its own dead devices: with {@code ublk.dev-id = N} it deletes device N unless a live
 * server holds it; with {@code -1} it deletes every pcache device whose owner is gone.
 */
final class UblkFrontend implements Frontend {

  private static final System.Logger LOG = System.getLogger("io.pcache.frontend.ublk");

  /** Discard and write-zeroes requests up to 1 GiB (in sectors); the block layer splits larger ones. */
  static final int MAX_DISCARD_SECTORS = 1 << 21;
  static final long QUEUE_READY_TIMEOUT_MS = 60_000;
  static final long QUEUE_END_TIMEOUT_MS = 30_000;
  static final long NODE_TIMEOUT_MS = 5_000;

  private record Mapping(long address, long length) {}

  private final BlockDevice device;
  private final UblkSettings settings;
  private final UblkSys sys;
  private final List<UblkQueue> queues = new ArrayList<>();
  private final List<Mapping> mappings = new ArrayList<>();
  private UblkControl control;
  private Arena arena;
  private int devId = -1;
  private int cdevFd = -1;
  private boolean added;
  private boolean started;
  private boolean closed;
  private volatile List<String> endpoints = List.of();
  /** For {@link #metrics()}, which must not wait for the lock {@link #start()} holds. */
  private volatile List<UblkQueue> liveQueues = List.of();
  private volatile IoDispatcher liveDispatcher;

  UblkFrontend(BlockDevice device, UblkSettings settings, UblkSys sys) {
    this.device = device;
    this.settings = settings;
    this.sys = sys;
  }

  @Override
  public synchronized void start() throws IOException {
    if (closed) {
      throw new IOException("the ublk front-end is closed");
    }
    if (started) {
      throw new IllegalStateException("the ublk front-end is already started");
    }
    started = true;
    String nativeFailure = sys.nativeFailure();
    if (nativeFailure != null) {
      throw new IOException("ublk: " + nativeFailure);
    }
    checkDevice();
    control = UblkControl.open(sys);
    try {
      OptionalLong features = control.features();
      int pid = sys.getpid();
      deleteDeadDevices(pid);
      long flags = Uapi.F_CMD_IOCTL_ENCODE;
      if (features.isPresent()) {
        flags &= features.getAsLong();
      }
      DevInfo want = new DevInfo(settings.queues(), settings.depth(), 0, settings.maxIo(), settings.devId(), pid,
          flags, UblkControl.ownerStamp(pid), 0, 0);
      DevInfo got = control.addDev(want);
      added = true;
      devId = got.devId();
      if (got.nrHwQueues() != want.nrHwQueues() || got.queueDepth() != want.queueDepth()
          || got.maxIoBufBytes() != want.maxIoBufBytes()) {
        LOG.log(System.Logger.Level.INFO, "ublk device " + devId + ": the kernel granted " + got.nrHwQueues()
            + " queues of depth " + got.queueDepth() + " and " + got.maxIoBufBytes() + "-byte requests (asked "
            + want.nrHwQueues() + ", " + want.queueDepth() + ", " + want.maxIoBufBytes() + ")");
      }
      int maxIo = got.maxIoBufBytes();
      if (got.nrHwQueues() < 1 || got.queueDepth() < 1 || maxIo < 4096) {
        throw new IOException("ublk ADD_DEV returned an unusable device: " + got);
      }
      control.setParams(devId, params(device, maxIo));
      cdevFd = openCharDevice(devId);
      boolean ioctlEncoded = (got.flags() & Uapi.F_CMD_IOCTL_ENCODE) != 0;
      startQueues(got.nrHwQueues(), got.queueDepth(), maxIo, ioctlEncoded);
      control.startDev(devId, pid);
      String node = "/dev/ublkb" + devId;
      waitForNode(node);
      endpoints = List.of(node);
      LOG.log(System.Logger.Level.INFO, "ublk device " + node + " (" + device.size() + " bytes): " + got.nrHwQueues()
          + " queue(s) x " + got.queueDepth() + " tags, requests up to " + maxIo + " bytes, control commands "
          + control.encoding() + ", I/O commands " + (ioctlEncoded ? "ioctl" : "legacy") + ", driver flags 0x"
          + Long.toHexString(got.flags()) + (features.isPresent() ? ", features 0x"
          + Long.toHexString(features.getAsLong()) : ""));
    } catch (IOException | RuntimeException | Error e) {
      try {
        teardown();
      } catch (RuntimeException | IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  private void checkDevice() throws IOException {
    int lbs = device.logicalBlockSize();
    int pbs = device.physicalBlockSize();
    if (Integer.bitCount(lbs) != 1 || lbs < 512 || lbs > 4096 || Integer.bitCount(pbs) != 1 || pbs < lbs) {
      throw new IOException("ublk cannot serve " + device.name() + ": logical block size " + lbs
          + " and physical block size " + pbs + " must be powers of two, 512 <= logical <= 4096, logical <= physical");
    }
    if (device.size() <= 0 || device.size() % lbs != 0) {
      throw new IOException("ublk cannot serve " + device.name() + ": its size " + device.size()
          + " is not a positive multiple of " + lbs);
    }
  }

  /** SET_PARAMS for {@code device}: block sizes, size, request limit, cache attributes, discard limits. */
  static Params params(BlockDevice device, int maxIo) {
    Set<Feature> f = device.features();
    int lbsShift = Integer.numberOfTrailingZeros(device.logicalBlockSize());
    int pbsShift = Integer.numberOfTrailingZeros(device.physicalBlockSize());
    int attrs = (f.contains(Feature.FLUSH) ? Uapi.ATTR_VOLATILE_CACHE : 0)
        | (f.contains(Feature.FLUSH) && f.contains(Feature.FUA) ? Uapi.ATTR_FUA : 0);
    boolean discard = f.contains(Feature.DISCARD);
    boolean zeroes = f.contains(Feature.WRITE_ZEROES);
    boolean limits = discard || zeroes;
    return new Params(attrs, lbsShift, pbsShift, pbsShift, pbsShift, maxIo >> IoDispatcher.SECTOR_SHIFT, 0,
        device.size() >> IoDispatcher.SECTOR_SHIFT, 0, limits, 0, limits ? device.physicalBlockSize() : 0,
        discard ? MAX_DISCARD_SECTORS : 0, zeroes ? MAX_DISCARD_SECTORS : 0, limits ? 1 : 0);
  }

  /** Deletes dead devices this start may clear; see the class comment. */
  private void deleteDeadDevices(int pid) throws IOException {
    boolean configured = settings.devId() >= 0;
    List<Integer> candidates = configured ? List.of(settings.devId()) : sys.deviceIds();
    for (int id : candidates) {
      Optional<DevInfo> found = control.devInfo(id);
      if (found.isEmpty()) {
        continue;
      }
      DevInfo d = found.get();
      Optional<Integer> owner = UblkControl.stampedOwner(d);
      if (!configured && owner.isEmpty()) {
        continue; // someone else's device: not ours to judge
      }
      String what = "ublk device " + id + " (" + Uapi.stateName(d.state()) + ", server pid " + d.ublksrvPid()
          + owner.map(o -> ", created by pcache pid " + o).orElse(", not created by pcache") + ")";
      if (d.ublksrvPid() > 0 && sys.processAlive(d.ublksrvPid())) {
        if (configured) {
          throw new IOException(what + " is served by a running process: stop it, or set " + UblkSettings.DEV_ID
              + " to another id (-1 lets the kernel choose)");
        }
        continue;
      }
      if (owner.isPresent() && owner.get() != pid && sys.processAlive(owner.get())) {
        if (configured) {
          throw new IOException(what + " belongs to pcache process " + owner.get() + ", which is running: stop it,"
              + " or set " + UblkSettings.DEV_ID + " to another id");
        }
        continue;
      }
      int fd = sys.open("/dev/ublkc" + id);
      if (fd >= 0) {
        sys.close(fd);
      } else if (fd == -Errnos.EBUSY) {
        if (configured) {
          throw new IOException(what + " is held open by another process: stop it, or set " + UblkSettings.DEV_ID
              + " to another id");
        }
        continue;
      }
      LOG.log(System.Logger.Level.WARNING, "deleting the dead " + what + " left by a server that is gone (if this"
          + " hangs, a file system on the old /dev/ublkb" + id + " is still mounted: unmount it)");
      if (d.state() != Uapi.S_DEV_DEAD) {
        control.stopDev(id);
      }
      control.delDev(id);
    }
  }

  private int openCharDevice(int id) throws IOException {
    String path = "/dev/ublkc" + id;
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(NODE_TIMEOUT_MS);
    while (true) {
      int fd = sys.open(path);
      if (fd >= 0) {
        return fd;
      }
      if (fd != -Errnos.ENOENT || System.nanoTime() > deadline) {
        throw new IOException("cannot open " + path + ": " + sys.describe(-fd)
            + (fd == -Errnos.ENOENT ? " (is devtmpfs mounted on /dev, or udev running?)" : ""));
      }
      sleep(10);
    }
  }

  private void startQueues(int nrQueues, int depth, int maxIo, boolean ioctlEncoded) throws IOException {
    int page = sys.pageSize();
    arena = Arena.ofShared();
    IoDispatcher dispatcher = new IoDispatcher(device);
    liveDispatcher = dispatcher;
    String name = "ublk" + devId;
    for (int q = 0; q < nrQueues; q++) {
      long length = Uapi.descriptorLength(depth, page);
      long address = sys.mmap(length, UringLayout.PROT_READ, UringLayout.MAP_SHARED | UringLayout.MAP_POPULATE,
          cdevFd, Uapi.descriptorOffset(q, page));
      if (address < 0 && address > -4096) {
        throw new IOException("cannot map the I/O descriptors of /dev/ublkc" + devId + " queue " + q + ": "
            + sys.describe((int) -address));
      }
      mappings.add(new Mapping(address, length));
      MemorySegment descriptors = MemorySegment.ofAddress(address).reinterpret(length);
      MemorySegment buffers = arena.allocate((long) depth * maxIo, page);
      MemorySegment eventBuffer = arena.allocate(8, 8);
      UblkQueue queue = new UblkQueue(sys, q, depth, cdevFd, descriptors, buffers, maxIo, eventBuffer, dispatcher,
          ioctlEncoded, name);
      queues.add(queue);
      queue.start(name);
    }
    liveQueues = List.copyOf(queues);
    for (UblkQueue queue : queues) {
      try {
        queue.ready().get(QUEUE_READY_TIMEOUT_MS, TimeUnit.MILLISECONDS);
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        throw new IOException("ublk device " + devId + ": a queue could not start: " + cause.getMessage(), cause);
      } catch (TimeoutException e) {
        throw new IOException("ublk device " + devId + ": a queue did not start within " + QUEUE_READY_TIMEOUT_MS
            + " ms");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while starting the ublk queues", e);
      }
    }
  }

  private void waitForNode(String node) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(NODE_TIMEOUT_MS);
    while (!sys.exists(node)) {
      if (System.nanoTime() > deadline) {
        LOG.log(System.Logger.Level.WARNING, "ublk: " + node + " did not appear within " + NODE_TIMEOUT_MS
            + " ms of START_DEV (is devtmpfs mounted on /dev, or udev running?)");
        return;
      }
      sleep(10);
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public List<String> endpoints() {
    return endpoints;
  }

  /** Hardware queues, requests served over every queue, and requests answered with an error. */
  @Override
  public Map<String, Long> metrics() {
    long served = 0;
    for (UblkQueue q : liveQueues) {
      served += q.requests();
    }
    IoDispatcher d = liveDispatcher;
    return Map.of("queues", (long) liveQueues.size(), "requests_total", served, "errors_total",
        d == null ? 0 : d.errors());
  }

  /** Requests served so far, over every queue. */
  long requests() {
    long n = 0;
    for (UblkQueue q : snapshot()) {
      n += q.requests();
    }
    return n;
  }

  private synchronized List<UblkQueue> snapshot() {
    return List.copyOf(queues);
  }

  /** The device id, once added. */
  synchronized int devId() {
    return devId;
  }

  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    if (control == null) {
      return;
    }
    teardown();
  }

  /** Undoes whatever start got through: STOP_DEV, queue threads, mappings, /dev/ublkcN, DEL_DEV, control. */
  private void teardown() throws IOException {
    String node = endpoints.isEmpty() ? null : endpoints.get(0);
    endpoints = List.of();
    if (node != null && sys.inUse(node)) {
      LOG.log(System.Logger.Level.WARNING, node + " is in use (mounted?): stopping it anyway; what its users did not"
          + " sync is lost, and the device is deleted (and pcache ends) once they close it (umount " + node + ")");
    }
    IOException failure = null;
    if (added) {
      try {
        control.stopDev(devId);
      } catch (IOException e) {
        failure = e;
      }
    }
    boolean allEnded = true;
    for (UblkQueue queue : queues) {
      try {
        if (!queue.join(QUEUE_END_TIMEOUT_MS)) {
          LOG.log(System.Logger.Level.WARNING, "ublk device " + devId + ": a queue thread did not end within "
              + QUEUE_END_TIMEOUT_MS + " ms of STOP_DEV; stopping it");
          queue.requestStop();
          allEnded &= queue.join(QUEUE_END_TIMEOUT_MS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        allEnded = false;
      }
    }
    for (Mapping m : mappings) {
      sys.munmap(m.address, m.length);
    }
    mappings.clear();
    if (cdevFd >= 0) {
      sys.close(cdevFd);
      cdevFd = -1;
    }
    if (added) {
      try {
        control.delDev(devId);
        added = false;
      } catch (IOException e) {
        failure = failure == null ? e : failure;
      }
    }
    control.close();
    if (arena != null) {
      if (allEnded) {
        arena.close();
      } else {
        LOG.log(System.Logger.Level.WARNING, "ublk device " + devId + ": keeping the I/O buffers mapped, a queue"
            + " thread is still running");
      }
      arena = null;
    }
    queues.clear();
    if (failure != null) {
      throw failure;
    }
  }

  @Override
  public String toString() {
    return "ublk[" + device.name() + ", " + settings + ", endpoints " + endpoints + "]";
  }
}
