package io.pcache.frontend.nbd;

import io.pcache.testkit.MapConfig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.ConfigKey;
import io.pcache.frontend.nbd.NbdSettings.Tcp;
import io.pcache.frontend.nbd.NbdSettings.Unix;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The nbd.* keys, their defaults and how they are read. */
class NbdSettingsTest {

  private final NbdFrontendProvider provider = new NbdFrontendProvider();

  @Test
  void declaredKeysAndDefaults() {
    Map<String, ConfigKey> keys = provider.configKeys().stream().collect(Collectors.toMap(ConfigKey::name, k -> k));
    assertEquals(Set.of("nbd.listen", "nbd.socket", "nbd.export-name", "nbd.description", "nbd.max-payload",
        "nbd.read-only", "nbd.tls", "nbd.tls.keystore", "nbd.tls.password", "nbd.max-connections",
        "nbd.max-requests", "nbd.poll-us"), keys.keySet());
    assertEquals("100", keys.get("nbd.poll-us").defaultValue());
    assertEquals("127.0.0.1:10809", keys.get("nbd.listen").defaultValue());
    assertEquals(ConfigKey.Type.ADDRESS, keys.get("nbd.listen").type());
    assertEquals("", keys.get("nbd.socket").defaultValue());
    assertEquals(ConfigKey.Type.PATH, keys.get("nbd.socket").type());
    assertEquals("pcache", keys.get("nbd.export-name").defaultValue());
    assertEquals("32M", keys.get("nbd.max-payload").defaultValue());
    assertEquals(List.of("off", "optional", "required"), keys.get("nbd.tls").choices());
    assertEquals("off", keys.get("nbd.tls").defaultValue());
    assertEquals("", keys.get("nbd.tls.keystore").defaultValue());
    assertEquals("", keys.get("nbd.tls.password").defaultValue());
    for (ConfigKey k : keys.values()) {
      assertTrue(k.name().startsWith("nbd."), k.name());
      assertTrue(!k.required(), k.name() + " has a default");
    }
    assertEquals("nbd", provider.name());
  }

  @Test
  void defaults() {
    NbdSettings s = NbdSettings.from(new MapConfig(provider.configKeys(), Map.of()));
    assertEquals(List.of(new Tcp("127.0.0.1", 10809)), s.listen());
    assertEquals(32 << 20, s.maxPayload());
    assertEquals(TlsMode.OFF, s.tls());
    assertEquals(128, s.maxRequests());
    assertEquals(100_000, s.pollNanos());
    assertTrue(!s.toString().contains("password="), "no password in toString");
  }

  @Test
  void pollMicroseconds() {
    NbdSettings off = NbdSettings.from(new MapConfig(provider.configKeys(), Map.of("nbd.poll-us", "0")));
    assertEquals(0, off.pollNanos());
    NbdSettings longer = NbdSettings.from(new MapConfig(provider.configKeys(), Map.of("nbd.poll-us", "250")));
    assertEquals(250_000, longer.pollNanos());
    assertThrows(IllegalArgumentException.class,
        () -> NbdSettings.from(new MapConfig(provider.configKeys(), Map.of("nbd.poll-us", "-1"))));
    ConfigKey key = provider.configKeys().stream().filter(k -> k.name().equals("nbd.poll-us")).findFirst()
        .orElseThrow();
    assertEquals(0, key.min(), "the configuration refuses what lies outside the declared range");
    assertEquals(10_000, key.max());
  }

  @Test
  void addresses() {
    assertEquals(new Tcp("0.0.0.0", 1), NbdSettings.parseAddress("0.0.0.0:1"));
    assertEquals(new Tcp("::1", 10809), NbdSettings.parseAddress("[::1]:10809"));
    assertEquals(new Tcp("localhost", 0), NbdSettings.parseAddress(" localhost:0 "));
    assertEquals(new Unix(Path.of("/run/pcache.sock")), NbdSettings.parseAddress("unix:/run/pcache.sock"));
    for (String bad : List.of("nohost", ":10809", "host:", "host:99999", "host:x", "unix:")) {
      assertThrows(IllegalArgumentException.class, () -> NbdSettings.parseAddress(bad), bad);
    }
  }

  @Test
  void socketKeyAddsAUnixListener() {
    NbdSettings s = NbdSettings.from(new MapConfig(provider.configKeys(), Map.of("nbd.socket", "/tmp/x.sock",
        "nbd.listen", "unix:/tmp/y.sock")));
    assertEquals(List.of(new Unix(Path.of("/tmp/y.sock")), new Unix(Path.of("/tmp/x.sock"))), s.listen());
  }

  @Test
  void badCombinations() {
    assertThrows(IllegalArgumentException.class, () -> NbdSettings.from(new MapConfig(provider.configKeys(),
        Map.of("nbd.max-payload", "1000000"))), "not a multiple of 512");
    assertThrows(IllegalArgumentException.class, () -> NbdSettings.from(new MapConfig(provider.configKeys(),
        Map.of("nbd.export-name", "x".repeat(5000)))), "name too long");
  }

  @Test
  void uriEncoding() {
    assertEquals("pcache", NbdServer.uriEncode("pcache", false));
    assertEquals("my%20disk%2Fa%C3%A9", NbdServer.uriEncode("my disk/aé", false));
    assertEquals("/run/p%20c.sock", NbdServer.uriEncode("/run/p c.sock", true));
  }
}
