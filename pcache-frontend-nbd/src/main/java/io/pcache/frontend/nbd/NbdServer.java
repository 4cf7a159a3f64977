package io.pcache.frontend.nbd;

import io.pcache.api.frontend.Frontend;
import io.pcache.frontend.nbd.NbdSettings.Listen;
import io.pcache.frontend.nbd.NbdSettings.Tcp;
import io.pcache.frontend.nbd.NbdSettings.Unix;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;

/**
 * The NBD server: listens on TCP and/or Unix sockets and serves one or more {@link Export}s, each
 * connection on a thread of its own ({@link NbdConnection}).
 *
 * <p>{@link #close()} stops accepting; answers requests that arrive from then on with ESHUTDOWN
 * (the specification's "the server is shutting down", on which a client must disconnect) and
 * options with ERR_SHUTDOWN; lets every request already in flight finish and be answered; once a
 * connection has been quiet for {@link #QUIET} (nothing in flight, nothing arriving) shuts its
 * input down, so that its reader ends and the connection closes (with a TLS close_notify). A
 * client that does not read its replies cannot hold the server up for ever: after {@link
 * #DRAIN_TIMEOUT} its connection is dropped.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>Threads: one virtual thread per listener (accept), one platform thread per connection (the
 * reader loop, which also runs quick requests), one virtual thread per request that may block
 * (run and reply), one watchdog that drops clients stuck in the handshake for {@link
 * #HANDSHAKE_TIMEOUT}. Nothing is pooled but buffers ({@link BufferPool}); replies ready together
 * leave in one gathering write ({@link ReplyWriter}).
 *
 * <p>Measured with {@code pcache-benchmarks/scripts/nbd-bench.sh 10 3} (fio 3.33's nbd engine on
 * loopback TCP, 4 KiB, median of 3 runs; pcache with its cache media on tmpfs and nbdkit 1.32's
 * memory plugin in the same run) on the shared 2-vCPU build machine, session 5; the full table,
 * with nbdkit file and a configuration that absorbs the whole write load, is in BENCHMARKS.md:
 *
 * <table>
 *   <caption>4 KiB requests, TCP, pcache (defaults, 1 GiB cache) against nbdkit memory</caption>
 *   <tr><th>workload</th><th>this server</th><th>nbdkit memory</th></tr>
 *   <tr><td>randread, iodepth 1</td><td>21.3 k IOPS, p50 34 µs, p99 86 µs</td>
 *       <td>9.0 k IOPS, p50 89 µs, p99 177 µs</td></tr>
 *   <tr><td>randread, iodepth 32</td><td>52.9 k IOPS</td><td>54.7 k IOPS</td></tr>
 *   <tr><td>randwrite, iodepth 1</td><td>26.7 k IOPS, p50 19 µs, p99 131 µs</td>
 *       <td>8.9 k IOPS, p50 87 µs, p99 181 µs</td></tr>
 *   <tr><td>randwrite, iodepth 32</td><td>43.8 k IOPS</td><td>59.2 k IOPS</td></tr>
 * </table>
 *
 * <p>At depth 1 the reader's poll ({@link PlainTransport}) spares a wake-up per request, which
 * before it cost pcache 0.7-0.8x of nbdkit's IOPS whenever writeback left the second vCPU idle;
 * before the reader ran quick requests itself (session 2), pcache had 0.34 to 0.57 of nbdkit's
 * IOPS. What is left for writes at depth 32 is not in this module: once the 1 GiB cache is full,
 * every write is also written back, and the backing file's kernel cost (10-20 µs of CPU per 4 KiB
 * key in buffered ext4) competes with the reader and the client for the two cores; with a cache
 * that holds the load, the same script gives 1.11x nbdkit's IOPS.
 */
final class NbdServer implements Frontend {

  /** How long {@link #close()} waits for connections to answer what they received. */
  static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(10);
  /** How long a client may take from connecting to entering transmission (qemu-nbd allows 10 s). */
  static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(30);
  /** How long a connection must have been quiet (nothing in flight, nothing arriving) before its input is shut. */
  static final Duration QUIET = Duration.ofMillis(50);

  private static final System.Logger LOG = System.getLogger(NbdServer.class.getPackageName());

  private enum State { NEW, RUNNING, CLOSED }

  private final List<Export> exports;
  private final NbdSettings settings;
  private final SSLContext sslContext;
  private final BufferPool pool = new BufferPool();
  private final Map<NbdConnection, Thread> connections = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();
  private final List<ServerSocketChannel> listeners = new ArrayList<>();
  private final List<Thread> acceptors = new ArrayList<>();
  private final List<String> endpoints = new ArrayList<>();
  private final List<Path> socketFiles = new ArrayList<>();
  private final Object lock = new Object();
  private State state = State.NEW;
  private volatile boolean stopping;
  private Thread watchdog;
  /** {@link #HANDSHAKE_TIMEOUT}, shortened by tests. */
  volatile Duration handshakeTimeout = HANDSHAKE_TIMEOUT;

  /**
   * @param exports the exports; the first is the default one
   * @param sslContext the TLS context, or null when {@code settings.tls()} is off
   */
  NbdServer(List<Export> exports, NbdSettings settings, SSLContext sslContext) {
    if (settings.tls() != TlsMode.OFF && sslContext == null) {
      throw new IllegalArgumentException("TLS mode " + settings.tls() + " without a TLS context");
    }
    this.exports = List.copyOf(exports);
    this.settings = settings;
    this.sslContext = sslContext;
  }

  List<Export> exports() {
    return exports;
  }

  NbdSettings settings() {
    return settings;
  }

  SSLContext sslContext() {
    return sslContext;
  }

  BufferPool pool() {
    return pool;
  }

  boolean stopping() {
    return stopping;
  }

  /** Connections open right now. */
  int connectionCount() {
    return connections.size();
  }

  @Override
  public void start() throws IOException {
    synchronized (lock) {
      if (state != State.NEW) {
        throw new IllegalStateException("NBD server already " + (state == State.RUNNING ? "started" : "closed"));
      }
      try {
        for (Listen l : settings.listen()) {
          listen(l);
        }
      } catch (IOException | RuntimeException e) {
        closeListeners();
        state = State.CLOSED;
        pool.close();
        throw e;
      }
      for (int i = 0; i < listeners.size(); i++) {
        ServerSocketChannel ch = listeners.get(i);
        boolean tcp = settings.listen().get(i) instanceof Tcp;
        acceptors.add(Thread.ofVirtual().name("nbd-accept-" + i).start(() -> acceptLoop(ch, tcp)));
      }
      watchdog = Thread.ofVirtual().name("nbd-watchdog").start(this::watchHandshakes);
      state = State.RUNNING;
      LOG.log(System.Logger.Level.INFO, "NBD server listening: " + String.join(", ", endpoints));
    }
  }

  private void listen(Listen l) throws IOException {
    String name = exports.getFirst().name();
    switch (l) {
      case Tcp(String host, int port) -> {
        ServerSocketChannel ch = ServerSocketChannel.open();
        try {
          ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
          ch.bind(new InetSocketAddress(host, port), 128);
        } catch (IOException e) {
          ch.close();
          throw new IOException("cannot listen for NBD on " + host + ":" + port + " (" + NbdSettings.LISTEN + "): " + e
              + (port == 10809 ? "; is another NBD server (nbd-server, qemu-nbd, nbdkit) running? Pick another"
                  + " port with --listen or " + NbdSettings.LISTEN : ""), e);
        }
        listeners.add(ch);
        int bound = ((InetSocketAddress) ch.getLocalAddress()).getPort();
        String h = host.contains(":") ? "[" + host + "]" : host;
        endpoints.add(scheme("") + "://" + h + ":" + bound + "/" + uriEncode(name, false));
      }
      case Unix(Path path) -> {
        clearStaleSocket(path);
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
          ch.bind(UnixDomainSocketAddress.of(path), 128);
        } catch (IOException e) {
          ch.close();
          throw new IOException("cannot listen for NBD on the Unix socket " + path + ": " + e, e);
        }
        listeners.add(ch);
        socketFiles.add(path);
        endpoints.add(scheme("+unix") + ":///" + uriEncode(name, false) + "?socket="
            + uriEncode(path.toString(), true));
      }
    }
  }

  private String scheme(String suffix) {
    return (settings.tls() == TlsMode.REQUIRED ? "nbds" : "nbd") + suffix;
  }

  /** Removes a socket file left by a server that died, refusing to touch a live one or a regular file. */
  private static void clearStaleSocket(Path path) throws IOException {
    if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (Files.isRegularFile(path) || Files.isDirectory(path)) {
      throw new IOException("cannot listen on the Unix socket " + path + ": a file or directory of that name exists");
    }
    try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
      throw new IOException("cannot listen on the Unix socket " + path + ": another server is listening there");
    } catch (IOException e) {
      if (e.getMessage() != null && e.getMessage().contains("another server")) {
        throw e;
      }
      LOG.log(System.Logger.Level.INFO, "removing the stale Unix socket " + path);
      Files.deleteIfExists(path);
    }
  }

  private void acceptLoop(ServerSocketChannel listener, boolean tcp) {
    while (!stopping) {
      SocketChannel ch;
      try {
        ch = listener.accept();
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        if (stopping) {
          return;
        }
        LOG.log(System.Logger.Level.WARNING, "NBD accept failed: " + e + "; retrying in 100 ms");
        try {
          Thread.sleep(100);
        } catch (InterruptedException ie) {
          return;
        }
        continue;
      }
      admit(ch, tcp);
    }
  }

  private void admit(SocketChannel ch, boolean tcp) {
    String peer;
    PlainTransport plain;
    try {
      if (tcp) {
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
      }
      peer = tcp ? String.valueOf(ch.getRemoteAddress()) : "unix:" + ch.getLocalAddress();
      plain = PlainTransport.open(ch, settings.pollNanos());
    } catch (IOException e) {
      closeQuietly(ch);
      return;
    }
    synchronized (lock) {
      if (stopping) {
        plain.abort();
        return;
      }
      if (connections.size() >= settings.maxConnections()) {
        LOG.log(System.Logger.Level.WARNING, "NBD: refusing " + peer + ": " + settings.maxConnections()
            + " connections already open (" + NbdSettings.MAX_CONNECTIONS + ")");
        refused.incrementAndGet();
        plain.abort();
        return;
      }
      long id = ids.incrementAndGet();
      NbdConnection c = new NbdConnection(this, id, peer, plain);
      Thread t = Thread.ofPlatform().daemon().name("nbd-conn-" + id).unstarted(c);
      connections.put(c, t);
      t.start();
    }
  }

  /** Drops connections that linger in the handshake (a slot each) for more than {@link #HANDSHAKE_TIMEOUT}. */
  private void watchHandshakes() {
    while (!stopping) {
      Duration timeout = handshakeTimeout;
      try {
        Thread.sleep(Math.min(1000, Math.max(10, timeout.toMillis() / 4)));
      } catch (InterruptedException e) {
        return;
      }
      for (NbdConnection c : connections.keySet()) {
        if (c.handshakeOlderThan(timeout.toNanos())) {
          LOG.log(System.Logger.Level.INFO, "NBD connection " + c.id() + ": no export selected within "
              + timeout.toMillis() + " ms of connecting; dropping it");
          c.abort();
        }
      }
    }
  }

  /** Called by a connection when it has finished. */
  void closed(NbdConnection c) {
    connections.remove(c);
  }

  /** Connections open now, accepted since start, and refused because {@code nbd.max-connections} were open. */
  @Override
  public Map<String, Long> metrics() {
    return Map.of("connections_open", (long) connections.size(), "connections_total", ids.get(),
        "connections_refused_total", refused.get());
  }

  @Override
  public List<String> endpoints() {
    synchronized (lock) {
      return List.copyOf(endpoints);
    }
  }

  @Override
  public void close() throws IOException {
    synchronized (lock) {
      if (state == State.CLOSED) {
        return;
      }
      boolean wasRunning = state == State.RUNNING;
      state = State.CLOSED;
      stopping = true;
      closeListeners();
      if (!wasRunning) {
        pool.close();
        return;
      }
    }
    for (Thread t : acceptors) {
      joinQuietly(t, Duration.ofSeconds(5));
    }
    watchdog.interrupt();
    Map<NbdConnection, Thread> open = Map.copyOf(connections);
    if (!open.isEmpty()) {
      LOG.log(System.Logger.Level.INFO, "NBD: finishing " + open.size() + " connection(s)");
    }
    open.keySet().forEach(NbdConnection::beginStop);
    long deadline = System.nanoTime() + DRAIN_TIMEOUT.toNanos();
    Set<NbdConnection> draining = new HashSet<>(open.keySet());
    while (!draining.isEmpty() && System.nanoTime() < deadline) {
      for (Iterator<NbdConnection> it = draining.iterator(); it.hasNext(); ) {
        NbdConnection c = it.next();
        if (c.idleFor(QUIET.toNanos()) || !open.get(c).isAlive()) {
          c.shutdown();
          it.remove();
        }
      }
      if (!draining.isEmpty()) {
        sleepQuietly(5);
      }
    }
    for (Map.Entry<NbdConnection, Thread> e : open.entrySet()) {
      long left = deadline - System.nanoTime();
      if (!joinQuietly(e.getValue(), Duration.ofNanos(Math.max(left, 1)))) {
        LOG.log(System.Logger.Level.WARNING, "NBD connection " + e.getKey().id() + " did not finish within "
            + DRAIN_TIMEOUT.toSeconds() + " s (" + e.getKey().inFlight() + " requests in flight); dropping it");
        e.getKey().abort();
        joinQuietly(e.getValue(), Duration.ofSeconds(5));
      }
    }
    for (Path p : socketFiles) {
      Files.deleteIfExists(p);
    }
    if (connections.isEmpty()) {
      pool.close();
    } else {
      LOG.log(System.Logger.Level.WARNING, "NBD: " + connections.size() + " connection(s) did not stop");
    }
    LOG.log(System.Logger.Level.INFO, "NBD server stopped");
  }

  private void closeListeners() {
    for (ServerSocketChannel ch : listeners) {
      closeQuietly(ch);
    }
  }

  private static void sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static boolean joinQuietly(Thread t, Duration timeout) {
    try {
      return t.join(timeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return !t.isAlive();
    }
  }

  private static void closeQuietly(java.io.Closeable c) {
    try {
      c.close();
    } catch (IOException e) {
      // closing for good
    }
  }

  /** Percent-encodes {@code s} for an NBD URI (RFC 3986 unreserved characters stay, and '/' in paths). */
  static String uriEncode(String s, boolean keepSlash) {
    StringBuilder b = new StringBuilder();
    for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
      char c = (char) (x & 0xff);
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
          || c == '_' || c == '~' || (keepSlash && c == '/')) {
        b.append(c);
      } else {
        b.append('%').append(Character.toUpperCase(Character.forDigit((x >> 4) & 0xf, 16)))
            .append(Character.toUpperCase(Character.forDigit(x & 0xf, 16)));
      }
    }
    return b.toString();
  }
}
