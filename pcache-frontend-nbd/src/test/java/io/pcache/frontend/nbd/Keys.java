package io.pcache.frontend.nbd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/** A self-signed certificate for tests, made with the JDK's keytool. */
final class Keys {

  static final String PASSWORD = "nbd-test-secret";

  private Keys() {}

  private static Path shared;

  /**
   * The keys of this test run, made once: {@code server.p12} (PKCS12, key and self-signed
   * certificate for localhost and 127.0.0.1, made with keytool) and {@code ca-cert.pem} (the
   * certificate, named as libnbd expects a CA) in a directory removed when the JVM exits.
   */
  static synchronized Path shared() throws IOException, InterruptedException {
    if (shared == null) {
      Path dir = Files.createTempDirectory("pcache-nbd-keys");
      Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("nbd-test-keys-cleanup").unstarted(() -> {
        try (var files = Files.list(dir)) {
          for (Path f : files.toList()) {
            Files.deleteIfExists(f);
          }
          Files.deleteIfExists(dir);
        } catch (IOException e) {
          // best effort
        }
      }));
      shared = make(dir);
    }
    return shared;
  }

  /** Makes the keys in {@code dir}; returns the keystore. */
  static Path make(Path dir) throws IOException, InterruptedException {
    Path keystore = dir.resolve("server.p12");
    Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
    run(List.of(keytool.toString(), "-genkeypair", "-alias", "nbd", "-keyalg", "EC", "-groupname", "secp256r1",
        "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-ext", "BC:c=ca:true", "-validity", "2",
        "-storetype", "PKCS12", "-keystore", keystore.toString(), "-storepass", PASSWORD, "-keypass", PASSWORD));
    try (var in = Files.newInputStream(keystore)) {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(in, PASSWORD.toCharArray());
      byte[] der = ks.getCertificate("nbd").getEncoded();
      Files.writeString(dir.resolve("ca-cert.pem"), "-----BEGIN CERTIFICATE-----\n"
          + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
          + "\n-----END CERTIFICATE-----\n");
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot read the keystore keytool made", e);
    }
    return keystore;
  }

  private static void run(List<String> command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("keytool failed: " + out);
    }
  }

  /** A client context that trusts any server: these tests check the protocol, not PKI. */
  static SSLContext trustingClient() throws Exception {
    X509TrustManager all = new X509TrustManager() {
      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    };
    SSLContext c = SSLContext.getInstance("TLS");
    c.init(null, new TrustManager[] {all}, null);
    return c;
  }
}
