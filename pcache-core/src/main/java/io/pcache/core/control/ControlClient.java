package io.pcache.core.control;

import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A connection to a running pcache's control socket ({@link ControlServer}), used by {@code
 * pcache status}, {@code pcache ctl} and {@code pcache drain}. One request at a time; not
 * thread-safe.
 */
public final class ControlClient implements AutoCloseable {

  /** Replies may be longer than requests (status lists every counter, but each on its own line). */
  private static final int MAX_REPLY_LINE = 64 * 1024;
  /**
   * How long a reply line may take. The server answers status and ctl at once and sends a drain's
   * progress several times a second, so a silent minute means a hung pcache, not a slow one.
   */
  static final long REPLY_TIMEOUT_MILLIS = 60_000;

  private final Path path;
  private final SocketChannel channel;
  private final LineDecoder decoder = new LineDecoder(MAX_REPLY_LINE);
  private final Deque<String> pending = new ArrayDeque<>();
  private final ByteBuffer in = ByteBuffer.allocate(8192);

  /**
   * A reply's outcome.
   *
   * @param status {@link Status#OK}, {@link Status#INVALID} (a bad request: nothing changed) or
   *     {@link Status#ERROR}
   * @param message the end line's message, empty for {@code ok}
   * @param lines the data lines without their prefix (empty when they went to a consumer)
   */
  public record Reply(Status status, String message, List<String> lines) {

    public boolean ok() {
      return status == Status.OK;
    }
  }

  /** How a request ended. */
  public enum Status {
    OK, INVALID, ERROR
  }

  private final java.nio.channels.Selector selector;

  private ControlClient(Path path, SocketChannel channel) throws IOException {
    this.path = path;
    this.channel = channel;
    channel.configureBlocking(false);
    this.selector = java.nio.channels.Selector.open();
    channel.register(selector, java.nio.channels.SelectionKey.OP_READ);
  }

  /**
   * Connects to the control socket at {@code path}.
   *
   * @return the connection, or empty when no pcache answers there (no file, or a stale socket)
   * @throws IOException when the socket exists but may not be used (permissions), naming it
   */
  public static Optional<ControlClient> connect(Path path) throws IOException {
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return Optional.empty();
    }
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      ch.connect(UnixDomainSocketAddress.of(path));
      return Optional.of(new ControlClient(path, ch));
    } catch (ConnectException e) {
      ch.close();
      String m = String.valueOf(e.getMessage());
      if (m.contains("ermission")) {
        throw new IOException("permission denied on the control socket " + path + " (it is owner-only): run this as the"
            + " user that runs 'pcache run'", e);
      }
      return Optional.empty(); // connection refused: nobody listens, a stale socket
    } catch (SocketException e) {
      ch.close();
      String m = String.valueOf(e.getMessage());
      if (m.contains("ermission")) {
        throw new IOException("permission denied on the control socket " + path + " (it is owner-only): run this as the"
            + " user that runs 'pcache run'", e);
      }
      if (m.contains("refused") || m.contains("No such file")) {
        return Optional.empty();
      }
      throw new IOException("cannot connect to the control socket " + path + ": " + m, e);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /** Whether a pcache answers on {@code path}. */
  static boolean answers(Path path) {
    try {
      Optional<ControlClient> c = connect(path);
      if (c.isEmpty()) {
        return false;
      }
      c.get().close();
      return true;
    } catch (IOException e) {
      return true; // it exists and is someone's: not ours to remove
    }
  }

  /** The socket's path. */
  public Path path() {
    return path;
  }

  /** Sends one request and collects the data lines of its reply. */
  public Reply call(String request) throws IOException {
    List<String> lines = new ArrayList<>();
    Reply r = call(request, lines::add);
    return new Reply(r.status(), r.message(), List.copyOf(lines));
  }

  /**
   * Sends one request and hands each data line (without its prefix) to {@code onLine} as it
   * arrives, for replies that stream (drain).
   *
   * @throws IOException when the connection fails or pcache closes it before the end line
   */
  public Reply call(String request, Consumer<String> onLine) throws IOException {
    if (request.indexOf('\n') >= 0 || request.indexOf('\r') >= 0) {
      throw new IllegalArgumentException("a request is one line: " + request.strip());
    }
    ByteBuffer out = ByteBuffer.wrap((request + "\n").getBytes(StandardCharsets.UTF_8));
    while (out.hasRemaining()) {
      if (channel.write(out) == 0) {
        Thread.onSpinWait(); // a request is one short line: the socket buffer takes it at once
      }
    }
    while (true) {
      String line = nextLine();
      if (line == null) {
        throw new IOException("pcache closed the control connection " + path + " before answering '" + request + "'");
      }
      if (line.equals(ControlProtocol.OK)) {
        return new Reply(Status.OK, "", List.of());
      }
      if (line.startsWith(ControlProtocol.INVALID + " ")) {
        return new Reply(Status.INVALID, line.substring(ControlProtocol.INVALID.length() + 1), List.of());
      }
      if (line.startsWith(ControlProtocol.ERROR + " ")) {
        return new Reply(Status.ERROR, line.substring(ControlProtocol.ERROR.length() + 1), List.of());
      }
      if (line.startsWith(ControlProtocol.DATA)) {
        onLine.accept(line.substring(ControlProtocol.DATA.length()));
      } else {
        throw new IOException("unexpected line from the control socket " + path + ": '" + line + "'");
      }
    }
  }

  private String nextLine() throws IOException {
    while (pending.isEmpty()) {
      in.clear();
      int n = channel.read(in);
      if (n < 0) {
        return null;
      }
      if (n == 0) {
        selector.selectedKeys().clear();
        if (selector.select(REPLY_TIMEOUT_MILLIS) == 0) {
          throw new IOException("no answer on the control socket " + path + " for " + REPLY_TIMEOUT_MILLIS / 1000
              + " s: the running pcache seems hung (look at its log; 'kill -QUIT' prints its threads)");
        }
        continue;
      }
      in.flip();
      try {
        pending.addAll(decoder.feed(in));
      } catch (IllegalStateException e) {
        throw new IOException("control socket " + path + ": reply " + e.getMessage());
      }
    }
    return pending.poll();
  }

  @Override
  public void close() throws IOException {
    try (selector) {
      channel.close();
    }
  }
}
