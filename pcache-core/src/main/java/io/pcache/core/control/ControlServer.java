package io.pcache.core.control;

import io.pcache.api.Config;
import io.pcache.api.ConfigKey;
import io.pcache.core.config.CoreKeys;
import io.pcache.core.config.LayeredConfig;
import io.pcache.core.engine.CacheEngine;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The control socket of a running pcache: a Unix domain socket through which {@code pcache
 * status}, {@code pcache ctl} and {@code pcache drain} reach the engine without restarting it.
 * The protocol is in {@link ControlProtocol}; what can be changed is in {@link Tunables}.
 *
 * <h2>Access</h2>
 *
 * The socket file is owner-only (mode 0600): connecting to a Unix socket needs write permission
 * on it, so only the user that runs pcache (and root) can talk to it. It is bound inside a fresh
 * directory of mode 0700 next to its final path, its mode set to 0600 there, and only then renamed
 * into place, so there is no moment at which others could connect.
 *
 * <p>At start, an existing file at the path is examined: when a pcache answers on it the start is
 * refused (two instances must not share a socket, nor very likely a cache); a socket nobody
 * answers on is left over from a process that died without cleaning up, and is replaced; anything
 * else (a regular file, a directory) is refused. {@link #close} removes the socket file.
 *
 * <h2>Threads</h2>
 *
 * One platform thread {@code pcache-control} accepts; each connection is served by a virtual
 * thread {@code pcache-control-N}. At most {@value #MAX_CONNECTIONS} connections are served at
 * once; more are answered {@code error busy} and closed. Status and tunables read and write
 * volatile engine state and never take a lock of the I/O path; a drain waits (polling every
 * {@value #PROGRESS_MILLIS} ms) while the cache keeps serving.
 */
public final class ControlServer implements AutoCloseable {

  private static final System.Logger LOG = System.getLogger("io.pcache.control");

  static final int MAX_CONNECTIONS = 64;
  static final long PROGRESS_MILLIS = 200;
  /** sun_path holds 108 bytes with the terminating NUL. */
  static final int MAX_PATH_BYTES = 107;

  private final Path path;
  private final CacheEngine engine;
  private final Tunables tunables;
  private final String device;
  private final ServerSocketChannel server;
  private final Semaphore slots = new Semaphore(MAX_CONNECTIONS);
  private final Set<SocketChannel> clients = ConcurrentHashMap.newKeySet();
  private final AtomicLong connections = new AtomicLong();
  private final Thread acceptor;
  private volatile boolean closing;

  private ControlServer(Path path, CacheEngine engine, Tunables tunables, String device, ServerSocketChannel server) {
    this.path = path;
    this.engine = engine;
    this.tunables = tunables;
    this.device = device;
    this.server = server;
    this.acceptor = Thread.ofPlatform().daemon().name("pcache-control").unstarted(this::acceptLoop);
  }

  /**
   * Starts the control socket that the configuration asks for ({@code control.socket}; empty turns
   * it off).
   *
   * @return the running server, or empty when turned off
   * @throws IOException when the socket cannot be created, or another pcache answers on it
   */
  public static Optional<ControlServer> start(CacheEngine engine, Config config) throws IOException {
    if (config.get(CoreKeys.CONTROL_SOCKET).isBlank()) {
      return Optional.empty();
    }
    Path socket = config.getPath(CoreKeys.CONTROL_SOCKET);
    String device = config.getDevice(CoreKeys.CACHE_DEVICE).path().toAbsolutePath().normalize().toString();
    Map<String, ConfigKey> keys = new ConcurrentHashMap<>();
    if (config instanceof LayeredConfig layered) {
      for (ConfigKey k : layered.schema().keys()) {
        keys.put(k.name(), k);
      }
    }
    Tunables tunables = new Tunables(engine, config.get(CoreKeys.CACHE_GC_POLICY), n -> Optional.ofNullable(keys.get(n)));
    try {
      return Optional.of(start(socket, engine, tunables, device));
    } catch (IOException e) {
      if (e instanceof InUseException || !"default".equals(config.sourceOf(CoreKeys.CONTROL_SOCKET))) {
        throw e; // asked for by name: not having it is an error
      }
      // The default place (under data.dir) may be on a file system without sockets (9p, some
      // FUSE or network mounts): serve anyway, and say how to get the control socket back.
      LOG.log(System.Logger.Level.WARNING, e.getMessage() + "; serving without a control socket ('pcache status',"
          + " 'ctl' and 'drain' cannot reach this pcache): set control.socket to a path on a local file system, for"
          + " example /run/pcache/pcache.sock, or to empty to turn it off");
      return Optional.empty();
    }
  }

  /**
   * Starts a control socket at {@code path}.
   *
   * @param device the cache media's path, which clients compare with theirs
   */
  public static ControlServer start(Path path, CacheEngine engine, Tunables tunables, String device) throws IOException {
    Path socket = path.toAbsolutePath().normalize();
    ServerSocketChannel channel = bind(socket);
    ControlServer s = new ControlServer(socket, engine, tunables, device, channel);
    s.acceptor.start();
    LOG.log(System.Logger.Level.INFO, "control socket " + socket + " (pcache status, pcache ctl, pcache drain)");
    return s;
  }

  /** The socket's path. */
  public Path path() {
    return path;
  }

  // ---------------------------------------------------------------------------------------------
  // The socket file

  static ServerSocketChannel bind(Path socket) throws IOException {
    checkLength(socket);
    Path parent = socket.getParent();
    if (!Files.isDirectory(parent)) {
      try {
        Files.createDirectories(parent, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      } catch (IOException e) {
        throw new IOException("cannot create the control socket " + socket + " (control.socket): its directory " + parent
            + " cannot be created (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")", e);
      }
    }
    clearStale(socket);
    Path dir = Files.createTempDirectory(parent, ".ctl",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Path tmp = dir.resolve("s");
    ServerSocketChannel channel = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      checkLength(tmp);
      channel.bind(UnixDomainSocketAddress.of(tmp), MAX_CONNECTIONS);
      Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
      Files.move(tmp, socket, StandardCopyOption.ATOMIC_MOVE);
      return channel;
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw new IOException("cannot create the control socket " + socket + " (control.socket): " + e.getMessage(), e);
    } finally {
      Files.deleteIfExists(tmp);
      Files.deleteIfExists(dir);
    }
  }

  private static void checkLength(Path socket) throws IOException {
    int bytes = socket.toString().getBytes(StandardCharsets.UTF_8).length;
    if (bytes > MAX_PATH_BYTES) {
      throw new IOException("control socket path " + socket + " is " + bytes + " bytes long; Unix sockets allow at most "
          + MAX_PATH_BYTES + ": set control.socket to a shorter path");
    }
  }

  /** The socket path is taken (another pcache answers there, or it is not a socket): never ignored. */
  static final class InUseException extends IOException {
    InUseException(String message) {
      super(message);
    }
  }

  /** Refuses a path in use or not a socket; removes a socket nobody answers on. */
  private static void clearStale(Path socket) throws IOException {
    BasicFileAttributes attrs;
    try {
      attrs = Files.readAttributes(socket, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return;
    }
    if (!attrs.isOther()) {
      throw new InUseException("control socket path " + socket + " exists and is not a socket (a "
          + (attrs.isDirectory() ? "directory" : attrs.isSymbolicLink() ? "symbolic link" : "regular file")
          + "); remove it or set control.socket to another path");
    }
    if (ControlClient.answers(socket)) {
      throw new InUseException("another pcache is running with control socket " + socket
          + " (it answers there); stop it first, or give this one another data.dir or control.socket");
    }
    Files.deleteIfExists(socket);
    LOG.log(System.Logger.Level.INFO, "removed the stale control socket " + socket + " (nobody answered on it)");
  }

  // ---------------------------------------------------------------------------------------------
  // Serving

  private void acceptLoop() {
    while (!closing) {
      SocketChannel ch;
      try {
        ch = server.accept();
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        if (!closing) {
          LOG.log(System.Logger.Level.WARNING, "control socket " + path + ": accept failed: " + e.getMessage());
        }
        continue;
      }
      if (!slots.tryAcquire()) {
        try (ch) {
          send(ch, List.of(ControlProtocol.error("busy: " + MAX_CONNECTIONS + " control connections are open; try again")));
        } catch (IOException e) {
          // the client went away
        }
        continue;
      }
      clients.add(ch);
      Thread.ofVirtual().name("pcache-control-" + connections.incrementAndGet()).start(() -> {
        try (ch) {
          serve(ch);
        } catch (IOException e) {
          // the client went away, or we are closing
        } finally {
          clients.remove(ch);
          slots.release();
        }
      });
    }
  }

  private void serve(SocketChannel ch) throws IOException {
    LineDecoder decoder = new LineDecoder(ControlProtocol.MAX_LINE);
    ByteBuffer in = ByteBuffer.allocate(4096);
    while (!closing) {
      in.clear();
      if (ch.read(in) < 0) {
        return;
      }
      in.flip();
      List<String> lines;
      try {
        lines = decoder.feed(in);
      } catch (IllegalStateException e) {
        send(ch, List.of(ControlProtocol.invalid("request " + e.getMessage() + "; closing the connection")));
        return;
      }
      for (String line : lines) {
        handle(ch, line);
      }
    }
  }

  /** Answers one request line; every path ends in exactly one end line. */
  private void handle(SocketChannel ch, String line) throws IOException {
    ControlProtocol.Request request;
    try {
      request = ControlProtocol.parse(line);
    } catch (IllegalArgumentException e) {
      send(ch, List.of(ControlProtocol.invalid(e.getMessage())));
      return;
    }
    try {
      switch (request.command()) {
        case "ping" -> send(ch, List.of(ControlProtocol.OK));
        case "status" -> send(ch, append(status(), ControlProtocol.OK));
        case "show" -> send(ch, append(show(), ControlProtocol.OK));
        case "set" -> {
          String key = request.args().get(0);
          String now = tunables.set(key, request.args().get(1));
          LOG.log(System.Logger.Level.INFO, "control: " + key + " set to " + now);
          send(ch, List.of(ControlProtocol.data(key + " = " + now), ControlProtocol.OK));
        }
        case "writeback" -> {
          boolean pause = request.args().get(0).equals("pause");
          if (pause) {
            engine.writeback().pause();
          } else {
            engine.writeback().resume();
          }
          LOG.log(System.Logger.Level.INFO, "control: writeback " + (pause ? "paused" : "resumed"));
          send(ch, List.of(ControlProtocol.data("writeback " + (pause ? "paused" : "running")), ControlProtocol.OK));
        }
        case "flush" -> {
          engine.flush();
          send(ch, List.of(ControlProtocol.data("flushed: every open kset is closed; " + engine.positions()),
              ControlProtocol.OK));
        }
        case "drain" -> drain(ch);
        default -> send(ch, List.of(ControlProtocol.invalid("unknown command '" + request.command() + "'")));
      }
    } catch (IllegalArgumentException e) {
      send(ch, List.of(ControlProtocol.invalid(e.getMessage())));
    } catch (IOException e) {
      if (!ch.isOpen()) {
        throw e;
      }
      send(ch, List.of(ControlProtocol.error(e.getMessage())));
    } catch (RuntimeException e) {
      send(ch, List.of(ControlProtocol.error(e.toString())));
    }
  }

  private static List<String> append(List<String> lines, String end) {
    List<String> all = new java.util.ArrayList<>(lines);
    all.add(end);
    return all;
  }

  /** ", dirty-percent 70 (holding back)" when writeback may leave dirty data while busy, else "". */
  private String dirtyShare() {
    int percent = engine.writeback().dirtyPercent();
    return percent == 0 ? "" : ", dirty-percent " + percent + (engine.writeback().holding() ? " (holding back)" : "");
  }

  private List<String> status() {
    List<String> out = new java.util.ArrayList<>();
    out.add(ControlProtocol.data("status " + engine.statusLine()));
    out.add(ControlProtocol.data("device " + device));
    out.add(ControlProtocol.data("pid " + ProcessHandle.current().pid()));
    out.add(ControlProtocol.data("name " + engine.name()));
    out.add(ControlProtocol.data("positions " + engine.positions()));
    long rate = engine.writeback().rate();
    out.add(ControlProtocol.data("writeback " + (engine.writeback().paused() ? "paused" : "running") + ", rate "
        + (rate == 0 ? "unlimited" : io.pcache.core.config.Values.human(rate) + "/s") + ", dirty ksets "
        + engine.dirtyKsets() + dirtyShare()));
    String shrink = engine.writeback().backingShrink();
    if (shrink != null) {
      out.add(ControlProtocol.data("backing-shrunk " + shrink));
    }
    String error = engine.writeback().lastError();
    if (error != null && !error.equals(shrink)) {
      java.time.Instant at = engine.writeback().lastErrorAt();
      out.add(ControlProtocol.data("writeback-error " + error + (at == null ? "" : " (at " + at + ")")));
    }
    String gcError = engine.gcError();
    if (gcError != null) {
      out.add(ControlProtocol.data("gc-error " + gcError));
    }
    StringBuilder gc = new StringBuilder("gc " + tunables.policyName());
    new java.util.TreeMap<>(engine.gcPolicy().parameters()).forEach((k, v) -> gc.append(' ').append(k).append('=').append(v));
    out.add(ControlProtocol.data(gc.toString()));
    for (Map.Entry<String, Long> c : engine.counters().entrySet()) {
      out.add(ControlProtocol.data("counter " + c.getKey() + " " + c.getValue()));
    }
    return out;
  }

  private List<String> show() {
    List<String> out = new java.util.ArrayList<>();
    for (Tunables.Entry e : tunables.show()) {
      out.add(ControlProtocol.data("tunable " + e.key() + "\t" + e.value() + "\t" + e.range() + "\t" + e.note()));
    }
    out.add(ControlProtocol.data("writeback " + (engine.writeback().paused() ? "paused" : "running")));
    return out;
  }

  /**
   * dm-pcache's drain while serving: close every open kset, then wait until writeback has passed
   * everything logged up to that moment (its dirty_tail reached that key_head, after a flush of
   * the backing device). Writes that come in meanwhile are not waited for, so the drain ends under
   * a steady load. A paused writeback is resumed (a drain asks for writeback); the rate limit
   * stays.
   */
  private void drain(SocketChannel ch) throws IOException {
    if (engine.writeback().paused()) {
      engine.writeback().resume();
      LOG.log(System.Logger.Level.INFO, "control: writeback resumed for a drain");
      send(ch, List.of(ControlProtocol.data("note writeback was paused; resumed for the drain")));
    }
    long startKsets = engine.writeback().passedKsets();
    long startBytes = engine.writeback().passedDirtyBytes();
    long totalBytes = engine.stats().snapshot().get("dirty_bytes");
    long mark = engine.drainMark();
    long totalKsets = Math.max(0, mark - startKsets);
    LOG.log(System.Logger.Level.INFO, "control: drain of " + totalKsets + " ksets started");
    String lastError = null;
    while (!engine.writtenBack(mark)) {
      if (closing || engine.isClosed()) {
        send(ch, List.of(ControlProtocol.error("pcache is shutting down; the drain did not finish (the dirty data"
            + " stays in the cache and is written back after the next start)")));
        return;
      }
      String error = engine.writeback().lastError();
      if (error != null && !error.equals(lastError)) {
        send(ch, List.of(ControlProtocol.data("retrying " + error)));
      }
      lastError = error;
      send(ch, List.of(progress(startKsets, totalKsets, startBytes, totalBytes)));
      try {
        Thread.sleep(PROGRESS_MILLIS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        send(ch, List.of(ControlProtocol.error("drain interrupted")));
        return;
      }
    }
    send(ch, List.of(progress(startKsets, totalKsets, startBytes, totalBytes),
        ControlProtocol.data("drained " + totalKsets + " ksets written back; " + engine.positions()), ControlProtocol.OK));
    LOG.log(System.Logger.Level.INFO, "control: drain done; " + engine.positions());
  }

  /** {@code progress DONE_KSETS TOTAL_KSETS DONE_BYTES TOTAL_BYTES running|paused}. */
  private String progress(long startKsets, long totalKsets, long startBytes, long totalBytes) {
    long doneKsets = Math.min(totalKsets, engine.writeback().passedKsets() - startKsets);
    long doneBytes = engine.writeback().passedDirtyBytes() - startBytes;
    long shownTotal = Math.max(totalBytes, 0);
    long shownDone = doneKsets >= totalKsets ? shownTotal : Math.min(shownTotal, doneBytes);
    return ControlProtocol.data("progress " + doneKsets + " " + totalKsets + " " + shownDone + " " + shownTotal + " "
        + (engine.writeback().paused() ? "paused" : "running"));
  }

  private static void send(SocketChannel ch, List<String> lines) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (String l : lines) {
      sb.append(l).append('\n');
    }
    ByteBuffer out = ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.UTF_8));
    synchronized (ch) {
      while (out.hasRemaining()) {
        ch.write(out);
      }
    }
  }

  /**
   * Stops accepting, ends every connection (a drain in progress is told that pcache is shutting
   * down) and removes the socket file. Call before closing the engine.
   */
  @Override
  public void close() {
    if (closing) {
      return;
    }
    closing = true;
    try {
      server.close();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "control socket " + path + ": " + e.getMessage());
    }
    try {
      acceptor.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    // Give a drain its "shutting down" line, then cut every connection.
    long deadline = System.nanoTime() + 2 * PROGRESS_MILLIS * 1_000_000;
    while (!clients.isEmpty() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    for (SocketChannel ch : clients) {
      try {
        ch.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot remove the control socket " + path + ": " + e.getMessage());
    }
  }
}
