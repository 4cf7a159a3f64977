package io.pcache.frontend.ublk;

import static io.pcache.frontend.ublk.uring.UringLayout.*;

import io.pcache.frontend.ublk.Uapi.DevInfo;
import io.pcache.frontend.ublk.Uapi.Params;
import io.pcache.frontend.ublk.uring.Errnos;
import io.pcache.frontend.ublk.uring.FakeUringKernel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A ublk driver in memory, behind the same system calls as the real one ({@link UblkSys}), for
 * tests on any machine. By default it answers as Linux 6.1 does (raw command numbers only: an
 * ioctl-encoded number gets ENODEV from the device lookup, or EOPNOTSUPP); {@link #modern} makes
 * it accept both encodings, GET_FEATURES and {@code UBLK_F_CMD_IOCTL_ENCODE}.
 *
 * <p>It keeps the kernel's rules that matter to a server: exclusive open of {@code /dev/ublkcN},
 * read-only descriptor mappings of the exact size, the daemon rule (one thread per queue), a
 * FETCH per tag before START_DEV completes, STOP_DEV draining requests in flight before aborting
 * the fetches with -ENODEV, and DEL_DEV waiting until the char device is closed and unmapped. A
 * test plays the block layer with {@link #submit}.
 */
final class FakeUblkKernel extends FakeUringKernel implements UblkSys {

  /** The driver is loaded: /dev/ublk-control exists. */
  volatile boolean loaded = true;
  /** The process holds CAP_SYS_ADMIN (else every control command fails with EPERM). */
  volatile boolean privileged = true;
  /** Opening /dev/ublk-control fails with EACCES. */
  volatile boolean accessDenied;
  /** Behave as Linux 6.5+: both encodings, GET_FEATURES, CMD_IOCTL_ENCODE. */
  volatile boolean modern;
  /** Answer every FETCH_REQ with EINVAL. */
  volatile boolean refuseFetch;
  volatile int cpus = 4;
  volatile int pid = 4242;
  final Set<Integer> alivePids = ConcurrentHashMap.newKeySet();
  /** Control commands as received: "ADD_DEV raw -1 = 0", "GET_DEV_INFO ioctl 0 = -19". */
  final List<String> log = Collections.synchronizedList(new ArrayList<>());
  final Map<Integer, Dev> devices = new ConcurrentHashMap<>();

  private static final class ControlFile {}

  private record CdevFile(Dev dev) {}

  private static final class EventFd {
    long counter;
    FakeUringKernel.Ring ring;
    long userData;
    long address;
  }

  /** What the block layer gets back. */
  record Result(int res, byte[] data) {}

  /** One device. */
  final class Dev {
    final int id;
    volatile DevInfo info;
    volatile Params params;
    volatile boolean cdevOpen;
    volatile int mappings;
    volatile boolean used;
    final Q[] queues;

    Dev(DevInfo info) {
      this.id = info.devId();
      this.info = info;
      this.queues = new Q[info.nrHwQueues()];
      for (int q = 0; q < queues.length; q++) {
        queues[q] = new Q(q, info.queueDepth());
      }
    }

    int state() {
      return info.state();
    }

    void set(int state, int serverPid) {
      DevInfo i = info;
      info = new DevInfo(i.nrHwQueues(), i.queueDepth(), state, i.maxIoBufBytes(), i.devId(), serverPid, i.flags(),
          i.ublksrvFlags(), i.ownerUid(), i.ownerGid());
    }

    boolean ready() {
      for (Q q : queues) {
        synchronized (q) {
          if (q.fetched < q.depth) {
            return false;
          }
        }
      }
      return true;
    }

    int inFlight() {
      int n = 0;
      for (Q q : queues) {
        synchronized (q) {
          for (boolean o : q.owned) {
            n += o ? 1 : 0;
          }
        }
      }
      return n;
    }
  }

  /** One hardware queue. */
  final class Q {
    final int qid;
    final int depth;
    final MemorySegment desc;
    Thread daemon;
    int fetched;
    final FakeUringKernel.Ring[] ring;
    final long[] userData;
    final long[] addr;
    final boolean[] active;
    final boolean[] owned;
    final Req[] req;

    Q(int qid, int depth) {
      this.qid = qid;
      this.depth = depth;
      this.desc = arena.allocate(Uapi.descriptorLength(depth, 4096), 4096);
      this.ring = new FakeUringKernel.Ring[depth];
      this.userData = new long[depth];
      this.addr = new long[depth];
      this.active = new boolean[depth];
      this.owned = new boolean[depth];
      this.req = new Req[depth];
    }
  }

  private record Req(int op, int length, CompletableFuture<Result> future) {}

  // ---- devices set up by tests ----

  /** A device as a crashed server leaves it: DEAD, no server. */
  Dev addDeadDevice(int id, long ublksrvFlags) {
    DevInfo info = new DevInfo(1, 4, Uapi.S_DEV_DEAD, 4096, id, -1, 0, ublksrvFlags, 0, 0);
    Dev d = new Dev(info);
    devices.put(id, d);
    return d;
  }

  // ---- the block layer side ----

  /**
   * Sends a request to queue {@code q} of device {@code id}, as the block layer would: picks a
   * fetched tag, fills the descriptor (and the tag buffer for a write) and completes the tag's
   * FETCH. The future completes when the server commits.
   */
  CompletableFuture<Result> submit(int id, int q, int opFlags, long sector, int nrSectors, byte[] data) {
    Dev d = devices.get(id);
    Q queue = d.queues[q];
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      synchronized (queue) {
        for (int tag = 0; tag < queue.depth; tag++) {
          if (queue.active[tag] && !queue.owned[tag]) {
            long base = (long) tag * Uapi.IO_DESC_SIZE;
            queue.desc.set(ValueLayout.JAVA_INT, base, opFlags);
            queue.desc.set(ValueLayout.JAVA_INT, base + 4, nrSectors);
            queue.desc.set(ValueLayout.JAVA_LONG, base + 8, sector);
            queue.desc.set(ValueLayout.JAVA_LONG, base + 16, queue.addr[tag]);
            int length = nrSectors * 512;
            if ((opFlags & 0xff) == Uapi.OP_WRITE && data != null) {
              MemorySegment.ofAddress(queue.addr[tag]).reinterpret(length).copyFrom(MemorySegment.ofArray(data));
            }
            CompletableFuture<Result> f = new CompletableFuture<>();
            queue.req[tag] = new Req(opFlags & 0xff, length, f);
            queue.active[tag] = false;
            queue.owned[tag] = true;
            queue.ring[tag].post(queue.userData[tag], Uapi.IO_RES_OK);
            return f;
          }
        }
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("no free tag on queue " + q + " of device " + id);
      }
      sleep(1);
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- io_uring commands ----

  @Override
  protected void process(FakeUringKernel.Ring ring, MemorySegment sqe, long userData, int opcode, int fd) {
    Object f = files.get(fd);
    if (opcode == IORING_OP_READ && f instanceof EventFd ev) {
      long address = sqe.get(ValueLayout.JAVA_LONG, SQE_ADDR);
      synchronized (ev) {
        if (ev.counter > 0) {
          MemorySegment.ofAddress(address).reinterpret(8).set(ValueLayout.JAVA_LONG, 0, ev.counter);
          ev.counter = 0;
          ring.post(userData, 8);
        } else {
          ev.ring = ring;
          ev.userData = userData;
          ev.address = address;
        }
      }
    } else if (opcode == IORING_OP_URING_CMD && f instanceof ControlFile) {
      ring.post(userData, control(sqe));
    } else if (opcode == IORING_OP_URING_CMD && f instanceof CdevFile c) {
      int r = io(c.dev(), ring, sqe, userData);
      if (r != Integer.MIN_VALUE) {
        ring.post(userData, r);
      }
    } else if (f == null) {
      ring.post(userData, -Errnos.EBADF);
    } else {
      super.process(ring, sqe, userData, opcode, fd);
    }
  }

  private static boolean isEncoded(int op, int size) {
    return ((op >>> 8) & 0xff) == 'u' && ((op >>> 16) & 0x3fff) == size && (op >>> 30) != 0;
  }

  private int control(MemorySegment sqe) {
    int op = sqe.get(ValueLayout.JAVA_INT, SQE_CMD_OP);
    MemorySegment cmd = sqe.asSlice(SQE_CMD);
    int devId = cmd.get(ValueLayout.JAVA_INT, Uapi.CTRL_DEV_ID);
    boolean encoded = isEncoded(op, Uapi.CTRL_CMD_SIZE);
    int nr = encoded ? op & 0xff : op;
    int r = control0(sqe, op, cmd, devId, encoded, nr);
    log.add(Uapi.commandName(nr) + (encoded ? " ioctl " : " raw ") + devId + " = " + r);
    return r;
  }

  private int control0(MemorySegment sqe, int op, MemorySegment cmd, int devId, boolean encoded, int nr) {
    if (sqe.byteSize() != SQE128_SIZE) {
      return -Errnos.EINVAL;
    }
    if (!privileged) {
      return -Errnos.EPERM;
    }
    if (modern && nr == Uapi.CMD_GET_FEATURES) {
      MemorySegment.ofAddress(cmd.get(ValueLayout.JAVA_LONG, Uapi.CTRL_ADDR)).reinterpret(8)
          .set(ValueLayout.JAVA_LONG, 0, supportedFlags());
      return 0;
    }
    if (!modern && encoded) {
      // Linux 6.1: the device lookup comes first, then "default: -EOPNOTSUPP"
      return devices.containsKey(devId) && op != Uapi.CMD_ADD_DEV ? -Errnos.EOPNOTSUPP : -Errnos.ENODEV;
    }
    if (nr != Uapi.CMD_ADD_DEV && !devices.containsKey(devId)) {
      return -Errnos.ENODEV;
    }
    Dev d = devices.get(devId);
    long addr = cmd.get(ValueLayout.JAVA_LONG, Uapi.CTRL_ADDR);
    int len = Short.toUnsignedInt(cmd.get(ValueLayout.JAVA_SHORT, Uapi.CTRL_LEN));
    long data0 = cmd.get(ValueLayout.JAVA_LONG, Uapi.CTRL_DATA);
    return switch (nr) {
      case Uapi.CMD_ADD_DEV -> addDev(cmd, devId, addr, len);
      case Uapi.CMD_SET_PARAMS -> setParams(d, addr, len);
      case Uapi.CMD_START_DEV -> startDev(d, (int) data0);
      case Uapi.CMD_STOP_DEV -> {
        stopDev(d);
        yield 0;
      }
      case Uapi.CMD_DEL_DEV -> delDev(d);
      case Uapi.CMD_GET_DEV_INFO -> {
        if (len < Uapi.DEV_INFO_SIZE || addr == 0) {
          yield -Errnos.EINVAL;
        }
        d.info.encode(MemorySegment.ofAddress(addr).reinterpret(Uapi.DEV_INFO_SIZE));
        yield 0;
      }
      default -> -Errnos.EOPNOTSUPP;
    };
  }

  private long supportedFlags() {
    return 0x1fL | (modern ? Uapi.F_CMD_IOCTL_ENCODE | Uapi.F_USER_COPY : 0);
  }

  private int addDev(MemorySegment cmd, int devId, long addr, int len) {
    if (len < Uapi.DEV_INFO_SIZE || addr == 0) {
      return -Errnos.EINVAL;
    }
    if (Short.toUnsignedInt(cmd.get(ValueLayout.JAVA_SHORT, Uapi.CTRL_QUEUE_ID)) != 0xffff) {
      return -Errnos.EINVAL;
    }
    MemorySegment s = MemorySegment.ofAddress(addr).reinterpret(Uapi.DEV_INFO_SIZE);
    DevInfo in = DevInfo.decode(s);
    if (in.queueDepth() > Uapi.MAX_QUEUE_DEPTH || in.devId() != devId) {
      return -Errnos.EINVAL;
    }
    int id;
    synchronized (devices) {
      if (devId >= 0) {
        if (devices.containsKey(devId)) {
          return -Errnos.EEXIST;
        }
        id = devId;
      } else {
        id = 0;
        while (devices.containsKey(id)) {
          id++;
        }
      }
      long flags = (in.flags() & supportedFlags()) | Uapi.F_URING_CMD_COMP_IN_TASK;
      DevInfo out = new DevInfo(Math.min(in.nrHwQueues(), cpus), in.queueDepth(), Uapi.S_DEV_DEAD,
          in.maxIoBufBytes() / 4096 * 4096, id, -1, flags, in.ublksrvFlags(), 0, 0);
      devices.put(id, new Dev(out));
      out.encode(s);
    }
    return 0;
  }

  private int setParams(Dev d, long addr, int len) {
    if (len <= 8 || addr == 0) {
      return -Errnos.EINVAL;
    }
    MemorySegment s = MemorySegment.ofAddress(addr).reinterpret(Uapi.PARAMS_SIZE);
    int plen = s.get(ValueLayout.JAVA_INT, 0);
    int types = s.get(ValueLayout.JAVA_INT, 4);
    if (plen > len || plen == 0 || types == 0) {
      return -Errnos.EINVAL;
    }
    if (d.used) {
      return -Errnos.EACCES;
    }
    Params p = Params.decode(s);
    if ((types & Uapi.PARAM_TYPE_BASIC) == 0 || p.logicalBsShift() < 9 || p.logicalBsShift() > 12
        || p.logicalBsShift() > p.physicalBsShift() || p.maxSectors() > d.info.maxIoBufBytes() >> 9) {
      return -Errnos.EINVAL;
    }
    if (p.discard() && ((p.maxDiscardSectors() != 0 && p.maxDiscardSegments() != 1) || p.discardGranularity() == 0)) {
      return -Errnos.EINVAL;
    }
    d.params = p;
    return 0;
  }

  private int startDev(Dev d, int serverPid) {
    if (serverPid <= 0) {
      return -Errnos.EINVAL;
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!d.ready()) {
      if (System.nanoTime() > deadline) {
        return -Errnos.EINTR;
      }
      sleep(1);
    }
    if (d.state() == Uapi.S_DEV_LIVE || d.used) {
      return -Errnos.EEXIST;
    }
    if (d.params == null) {
      return -Errnos.EINVAL;
    }
    d.set(Uapi.S_DEV_LIVE, serverPid);
    d.used = true;
    return 0;
  }

  private void stopDev(Dev d) {
    if (d.state() == Uapi.S_DEV_LIVE) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (d.inFlight() > 0 && System.nanoTime() < deadline) { // del_gendisk drains the queue
        sleep(1);
      }
      d.set(Uapi.S_DEV_DEAD, -1);
    }
    for (Q q : d.queues) {
      synchronized (q) {
        for (int tag = 0; tag < q.depth; tag++) {
          if (q.active[tag]) {
            q.active[tag] = false;
            q.ring[tag].post(q.userData[tag], Uapi.IO_RES_ABORT);
          }
        }
      }
    }
  }

  private int delDev(Dev d) {
    stopDev(d);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (d.cdevOpen || d.mappings > 0) { // the real DEL_DEV would wait forever
      if (System.nanoTime() > deadline) {
        return -Errnos.ETIMEDOUT;
      }
      sleep(1);
    }
    devices.remove(d.id);
    return 0;
  }

  private int io(Dev d, FakeUringKernel.Ring ring, MemorySegment sqe, long userData) {
    int op = sqe.get(ValueLayout.JAVA_INT, SQE_CMD_OP);
    boolean encoded = isEncoded(op, Uapi.IO_CMD_SIZE);
    if (encoded && (d.info.flags() & Uapi.F_CMD_IOCTL_ENCODE) == 0 && !modern) {
      return -Errnos.EINVAL;
    }
    int nr = encoded ? op & 0xff : op;
    MemorySegment cmd = sqe.asSlice(SQE_CMD);
    int qid = Short.toUnsignedInt(cmd.get(ValueLayout.JAVA_SHORT, 0));
    int tag = Short.toUnsignedInt(cmd.get(ValueLayout.JAVA_SHORT, 2));
    int result = cmd.get(ValueLayout.JAVA_INT, 4);
    long addr = cmd.get(ValueLayout.JAVA_LONG, 8);
    if (qid >= d.queues.length) {
      return -Errnos.EINVAL;
    }
    Q q = d.queues[qid];
    synchronized (q) {
      if ((q.daemon != null && q.daemon != Thread.currentThread()) || tag >= q.depth) {
        return -Errnos.EINVAL;
      }
      if (q.active[tag]) {
        return -Errnos.EBUSY;
      }
      switch (nr) {
        case Uapi.IO_FETCH_REQ -> {
          if (refuseFetch || q.fetched == q.depth || q.owned[tag] || addr == 0) {
            return refuseFetch ? -Errnos.EINVAL : q.fetched == q.depth ? -Errnos.EBUSY : -Errnos.EINVAL;
          }
          q.daemon = Thread.currentThread();
          q.fetched++;
        }
        case Uapi.IO_COMMIT_AND_FETCH_REQ -> {
          if (!q.owned[tag] || addr == 0) {
            return -Errnos.EINVAL;
          }
          Req r = q.req[tag];
          byte[] data = null;
          if (r.op() == Uapi.OP_READ && result > 0) {
            data = MemorySegment.ofAddress(q.addr[tag]).reinterpret(Math.min(result, r.length()))
                .toArray(ValueLayout.JAVA_BYTE);
          }
          q.owned[tag] = false;
          q.req[tag] = null;
          r.future().complete(new Result(result, data));
        }
        default -> {
          return -Errnos.EINVAL;
        }
      }
      q.active[tag] = true;
      q.ring[tag] = ring;
      q.userData[tag] = userData;
      q.addr[tag] = addr;
    }
    return Integer.MIN_VALUE; // no CQE until a request comes or the queue is aborted
  }

  // ---- files ----

  @Override
  protected long mmapFile(Object file, long length, int prot, int flags, long offset) {
    if (!(file instanceof CdevFile c)) {
      return -Errnos.ENODEV;
    }
    if ((prot & PROT_WRITE) != 0) {
      return -Errnos.EPERM;
    }
    Dev d = c.dev();
    long unit = Uapi.roundUp((long) Uapi.MAX_QUEUE_DEPTH * Uapi.IO_DESC_SIZE, 4096);
    int q = (int) (offset / unit);
    if (offset % unit != 0 || q >= d.queues.length || length != d.queues[q].desc.byteSize()) {
      return -Errnos.EINVAL;
    }
    synchronized (d) {
      d.mappings++;
    }
    return d.queues[q].desc.address();
  }

  @Override
  public int munmap(long address, long length) {
    for (Dev d : devices.values()) {
      for (Q q : d.queues) {
        if (q.desc.address() == address) {
          synchronized (d) {
            d.mappings--;
          }
          return 0;
        }
      }
    }
    return super.munmap(address, length);
  }

  private int newFd(Object file) {
    return allocateFd(file);
  }

  @Override
  public int open(String path) {
    if (path.equals(UblkControl.CONTROL_PATH)) {
      if (!loaded) {
        return -Errnos.ENOENT;
      }
      return accessDenied ? -Errnos.EACCES : newFd(new ControlFile());
    }
    if (path.startsWith("/dev/ublkc")) {
      Dev d = devices.get(Integer.parseInt(path.substring(10)));
      if (d == null) {
        return -Errnos.ENOENT;
      }
      synchronized (d) {
        if (d.cdevOpen) {
          return -Errnos.EBUSY;
        }
        d.cdevOpen = true;
      }
      return newFd(new CdevFile(d));
    }
    return -Errnos.ENOENT;
  }

  @Override
  protected void closed(Object file) {
    if (file instanceof CdevFile c) {
      c.dev().cdevOpen = false;
    }
  }

  /** Block devices that count as mounted. */
  final Set<String> mounted = ConcurrentHashMap.newKeySet();

  @Override
  public boolean inUse(String blockDevice) {
    return mounted.contains(blockDevice);
  }

  @Override
  public int eventfd() {
    return newFd(new EventFd());
  }

  @Override
  public int signal(int eventFd) {
    if (!(files.get(eventFd) instanceof EventFd ev)) {
      return -Errnos.EBADF;
    }
    synchronized (ev) {
      ev.counter++;
      if (ev.ring != null) {
        MemorySegment.ofAddress(ev.address).reinterpret(8).set(ValueLayout.JAVA_LONG, 0, ev.counter);
        ev.counter = 0;
        ev.ring.post(ev.userData, 8);
        ev.ring = null;
      }
    }
    return 0;
  }

  @Override
  public int setIoFlusher() {
    return 0;
  }

  @Override
  public int getpid() {
    return pid;
  }

  @Override
  public int pageSize() {
    return 4096;
  }

  @Override
  public boolean processAlive(int p) {
    return p == pid || alivePids.contains(p);
  }

  @Override
  public boolean exists(String path) {
    if (path.equals(UblkControl.CONTROL_PATH) || path.equals("/sys/module/ublk_drv")) {
      return loaded;
    }
    if (path.startsWith("/dev/ublkb")) {
      Dev d = devices.get(Integer.parseInt(path.substring(10)));
      return d != null && d.state() == Uapi.S_DEV_LIVE;
    }
    return false;
  }

  @Override
  public List<Integer> deviceIds() {
    return List.copyOf(new TreeMap<>(devices).keySet());
  }

  @Override
  public boolean hasCapSysAdmin() {
    return privileged;
  }

  @Override
  public String nativeFailure() {
    return null;
  }
}
