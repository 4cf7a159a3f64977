package io.pcache.core.systemd;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * systemd's readiness protocol ({@code sd_notify(3)}) without libsystemd: when systemd starts pcache
 * from a {@code Type=notify} unit it sets {@code NOTIFY_SOCKET} to a Unix datagram socket, and pcache
 * sends {@code READY=1} there once the front-end serves, {@code STOPPING=1} when it begins to shut
 * down, and {@code STATUS=...} lines that {@code systemctl status} shows.
 *
 * <p>The JDK's Unix-domain channels are stream-only, so the datagram is sent with {@code socket(2)}
 * and {@code sendto(2)} through the FFM API (java.base; the launcher grants {@code io.pcache.core}
 * native access). An abstract socket ({@code @name}) and a path are both handled. Without {@code
 * NOTIFY_SOCKET} every call does nothing, so the same binary runs under systemd and anywhere else.
 */
public final class SdNotify {

  static final int AF_UNIX = 1;
  static final int SOCK_DGRAM = 2;
  static final int SOCK_CLOEXEC = 0x80000;
  /** {@code sizeof(struct sockaddr_un)}: a 2-byte family and 108 bytes of path. */
  static final int SOCKADDR_UN_SIZE = 110;
  static final int SUN_PATH_MAX = 108;

  private final String socket;

  SdNotify(String socket) {
    this.socket = socket;
  }

  /** The notifier for this process: {@code NOTIFY_SOCKET} from the environment, if set. */
  public static SdNotify fromEnvironment() {
    return fromEnvironment(System.getenv());
  }

  static SdNotify fromEnvironment(Map<String, String> env) {
    String s = env.get("NOTIFY_SOCKET");
    return new SdNotify(s == null || s.isBlank() ? null : s);
  }

  /** Whether a supervisor listens (pcache was started by systemd with {@code Type=notify}). */
  public boolean enabled() {
    return socket != null;
  }

  /**
   * Sends {@code state} (newline-separated {@code KEY=VALUE} assignments, for example {@code
   * "READY=1\nSTATUS=serving"}); does nothing when not {@link #enabled()}.
   *
   * @throws IOException when the socket is given but the datagram cannot be sent
   */
  public void send(String state) throws IOException {
    if (socket == null) {
      return;
    }
    Native.send(socket, state.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Sends {@code state} to this process's supervisor, if any ({@link #fromEnvironment()}); a
   * failure is logged as a warning, never thrown: a supervisor that cannot be told is no reason to
   * stop serving.
   */
  public static void notify(String state) {
    SdNotify n = fromEnvironment();
    try {
      n.send(state);
    } catch (IOException | RuntimeException e) {
      org.slf4j.LoggerFactory.getLogger(SdNotify.class).warn("cannot tell systemd {}: {}",
          state.replace('\n', ' '), e.getMessage());
    }
  }

  /** The {@code sockaddr_un} of {@code name}: a path, or an abstract name when it starts with {@code @}. */
  static MemorySegment address(Arena arena, String name) throws IOException {
    byte[] path = name.getBytes(StandardCharsets.UTF_8);
    boolean abstractName = name.startsWith("@");
    int length = abstractName ? path.length : path.length + 1;
    if (path.length == 0 || length > SUN_PATH_MAX) {
      throw new IOException("NOTIFY_SOCKET=" + name + " is not a usable Unix socket address (1 to 107 bytes)");
    }
    if (!abstractName && !name.startsWith("/")) {
      throw new IOException("NOTIFY_SOCKET=" + name + " is neither an absolute path nor an abstract name (@...)");
    }
    MemorySegment sa = arena.allocate(SOCKADDR_UN_SIZE, 2);
    sa.set(JAVA_SHORT, 0, (short) AF_UNIX);
    MemorySegment.copy(path, 0, sa, JAVA_BYTE, 2, path.length);
    if (abstractName) {
      sa.set(JAVA_BYTE, 2, (byte) 0);
    }
    return sa.asSlice(0, 2 + length);
  }

  /** The few libc calls needed, bound on first use. Package-private for the tests' receiver. */
  static final class Native {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final MemoryLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
        CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    static final MethodHandle SOCKET = handle("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    static final MethodHandle SENDTO = handle("sendto",
        FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle BIND = handle("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle RECV = handle("recv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    static final MethodHandle CLOSE = LINKER.downcallHandle(LIBC.find("close").orElseThrow(),
        FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    private Native() {}

    private static MethodHandle handle(String name, FunctionDescriptor d) {
      return LINKER.downcallHandle(LIBC.find(name).orElseThrow(() -> new UnsupportedOperationException("no " + name
          + " in the C library")), d, Linker.Option.captureCallState("errno"));
    }

    static int errno(MemorySegment state) {
      return (int) ERRNO.get(state, 0L);
    }

    /** A new datagram socket, close-on-exec. */
    static int socket(Arena arena, MemorySegment state) throws IOException {
      try {
        int fd = (int) SOCKET.invokeExact(state, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
          throw new IOException("socket(AF_UNIX, SOCK_DGRAM) failed: errno " + errno(state));
        }
        return fd;
      } catch (IOException | RuntimeException | Error e) {
        throw e;
      } catch (Throwable t) {
        throw new IOException(t);
      }
    }

    static void close(int fd) {
      try {
        int ignored = (int) CLOSE.invokeExact(fd);
      } catch (Throwable t) {
        // nothing to do: the descriptor is gone either way
      }
    }

    static void send(String socket, byte[] message) throws IOException {
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment state = arena.allocate(CAPTURE);
        MemorySegment sa = address(arena, socket);
        MemorySegment buf = arena.allocate(Math.max(1, message.length));
        MemorySegment.copy(message, 0, buf, JAVA_BYTE, 0, message.length);
        int fd = socket(arena, state);
        try {
          long n = (long) SENDTO.invokeExact(state, fd, buf, (long) message.length, 0, sa, (int) sa.byteSize());
          if (n < 0) {
            throw new IOException("sd_notify: sendto " + socket + " failed: errno " + errno(state));
          }
        } finally {
          close(fd);
        }
      } catch (IOException | RuntimeException | Error e) {
        throw e;
      } catch (Throwable t) {
        throw new IOException(t);
      }
    }
  }
}
