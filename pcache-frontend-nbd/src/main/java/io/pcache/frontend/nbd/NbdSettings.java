package io.pcache.frontend.nbd;

import io.pcache.api.Config;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * The NBD server's settings, read from the {@code nbd.*} keys (see {@link NbdFrontendProvider}).
 *
 * @param listen where to listen: the {@code nbd.listen} address first, then the {@code nbd.socket} Unix socket
 * @param exportName the export's name
 * @param description the export's description (empty: none)
 * @param maxPayload the largest READ or WRITE, a multiple of 512
 * @param readOnly whether the export is read-only
 * @param tls the TLS mode
 * @param keystore the PKCS12 keystore with the server's key and certificate, or null when TLS is off
 * @param password the keystore password
 * @param maxConnections connections served at once; more are closed at accept
 * @param maxRequests requests in flight per connection
 * @param pollNanos how long a connection's reader polls its socket for the next request before it
 *     sleeps (0: sleeps at once)
 */
record NbdSettings(List<Listen> listen, String exportName, String description, int maxPayload, boolean readOnly,
    TlsMode tls, Path keystore, String password, int maxConnections, int maxRequests, long pollNanos) {

  static final String LISTEN = "nbd.listen";
  static final String SOCKET = "nbd.socket";
  static final String EXPORT_NAME = "nbd.export-name";
  static final String DESCRIPTION = "nbd.description";
  static final String MAX_PAYLOAD = "nbd.max-payload";
  static final String READ_ONLY = "nbd.read-only";
  static final String TLS = "nbd.tls";
  static final String TLS_KEYSTORE = "nbd.tls.keystore";
  static final String TLS_PASSWORD = "nbd.tls.password";
  static final String MAX_CONNECTIONS = "nbd.max-connections";
  static final String MAX_REQUESTS = "nbd.max-requests";
  static final String POLL_US = "nbd.poll-us";

  /** A listening address. */
  sealed interface Listen permits Tcp, Unix {}

  /** A TCP address; port 0 picks a free port. */
  record Tcp(String host, int port) implements Listen {}

  /** A Unix-domain socket path. */
  record Unix(Path path) implements Listen {}

  NbdSettings {
    listen = List.copyOf(listen);
    Objects.requireNonNull(exportName, "exportName");
    Objects.requireNonNull(description, "description");
    Objects.requireNonNull(tls, "tls");
    if (listen.isEmpty()) {
      throw new IllegalArgumentException("nothing to listen on");
    }
    if (exportName.getBytes(StandardCharsets.UTF_8).length > Nbd.MAX_STRING || exportName.indexOf('\0') >= 0) {
      throw new IllegalArgumentException(EXPORT_NAME + ": an export name is at most " + Nbd.MAX_STRING
          + " bytes of UTF-8 without NUL characters");
    }
    if (maxPayload < 4096 || maxPayload % 512 != 0) {
      throw new IllegalArgumentException(MAX_PAYLOAD + " = " + maxPayload
          + ": must be a multiple of 512 and at least 4096 (1M or more is recommended)");
    }
    if (tls != TlsMode.OFF && keystore == null) {
      throw new IllegalArgumentException(TLS + " = " + tls.name().toLowerCase(Locale.ROOT) + " needs " + TLS_KEYSTORE
          + ": a PKCS12 keystore holding the server's private key and certificate (make one with: keytool -genkeypair"
          + " -storetype PKCS12 -keyalg EC -alias nbd -dname CN=HOST -ext SAN=dns:HOST -keystore nbd.p12)");
    }
    if (maxConnections < 1 || maxRequests < 1) {
      throw new IllegalArgumentException(MAX_CONNECTIONS + " and " + MAX_REQUESTS + " must be at least 1");
    }
    if (pollNanos < 0) {
      throw new IllegalArgumentException(POLL_US + " must not be negative");
    }
  }

  /** Reads and checks the keys. */
  static NbdSettings from(Config config) {
    List<Listen> listen = new ArrayList<>();
    listen.add(parseAddress(config.get(LISTEN)));
    String socket = config.get(SOCKET);
    if (!socket.isEmpty()) {
      listen.add(new Unix(config.getPath(SOCKET)));
    }
    long maxPayload = config.getSize(MAX_PAYLOAD);
    if (maxPayload > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(MAX_PAYLOAD + " = " + maxPayload + " is too large");
    }
    TlsMode tls = TlsMode.valueOf(config.get(TLS).strip().toUpperCase(Locale.ROOT));
    Path keystore = config.get(TLS_KEYSTORE).isEmpty() ? null : config.getPath(TLS_KEYSTORE);
    return new NbdSettings(listen, config.get(EXPORT_NAME), config.get(DESCRIPTION), (int) maxPayload,
        config.getBoolean(READ_ONLY), tls, tls == TlsMode.OFF ? null : keystore, config.get(TLS_PASSWORD),
        config.getInt(MAX_CONNECTIONS), config.getInt(MAX_REQUESTS), config.getInt(POLL_US) * 1000L);
  }

  /** {@code host:port}, {@code [v6]:port} or {@code unix:/path}. */
  static Listen parseAddress(String text) {
    String s = text.strip();
    if (s.startsWith("unix:")) {
      String p = s.substring(5);
      if (p.isEmpty()) {
        throw new IllegalArgumentException(LISTEN + " = " + text + ": unix: needs a path");
      }
      return new Unix(Path.of(p).toAbsolutePath());
    }
    int colon = s.lastIndexOf(':');
    if (colon <= 0 || colon == s.length() - 1) {
      throw new IllegalArgumentException(LISTEN + " = " + text + ": write host:port (127.0.0.1:10809) or unix:/path");
    }
    String host = s.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(s.substring(colon + 1));
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException(LISTEN + " = " + text + ": the port must be a number from 0 to 65535");
    }
    return new Tcp(host, port);
  }

  /** The TLS context, or null when TLS is off. */
  SSLContext sslContext() throws IOException {
    if (tls == TlsMode.OFF) {
      return null;
    }
    char[] pass = password.toCharArray();
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      try (InputStream in = Files.newInputStream(keystore)) {
        ks.load(in, pass);
      }
      boolean hasKey = false;
      for (String alias : Collections.list(ks.aliases())) {
        hasKey |= ks.isKeyEntry(alias);
      }
      if (!hasKey) {
        throw new IOException("the TLS keystore " + keystore + " (" + TLS_KEYSTORE + ") holds no private key entry");
      }
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, pass);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(kmf.getKeyManagers(), null, null);
      return context;
    } catch (NoSuchFileException e) {
      throw new IOException("the TLS keystore " + keystore + " (" + TLS_KEYSTORE + ") does not exist", e);
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot use the TLS keystore " + keystore + " (" + TLS_KEYSTORE + "): " + e.getMessage(),
          e);
    } catch (IOException e) {
      if (e.getMessage() != null && e.getMessage().startsWith("the TLS keystore")) {
        throw e;
      }
      throw new IOException("cannot read the TLS keystore " + keystore + " (" + TLS_KEYSTORE + "): " + e.getMessage()
          + " (a wrong " + TLS_PASSWORD + " reads as this too)", e);
    }
  }

  @Override
  public String toString() {
    return "NbdSettings[listen=" + listen + ", export=" + exportName + ", maxPayload=" + maxPayload + ", readOnly="
        + readOnly + ", tls=" + tls + ", keystore=" + keystore + ", maxConnections=" + maxConnections
        + ", maxRequests=" + maxRequests + ", pollNanos=" + pollNanos + "]"; // no password
  }
}
