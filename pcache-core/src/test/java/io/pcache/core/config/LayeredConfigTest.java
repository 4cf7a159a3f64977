package io.pcache.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.ConfigKey;
import io.pcache.api.DeviceSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayeredConfigTest {

  @TempDir Path home;
  Path cwd;
  ConfigSchema schema;

  @BeforeEach
  void setUp() throws IOException {
    cwd = Files.createDirectories(home.resolve("cwd"));
    Files.createDirectories(home.resolve("conf"));
    schema = new ConfigSchema().add("pcache-core", CoreKeys.all())
        .add("gc-policy threshold (test)", List.of(ConfigKey.integer("gc.threshold.percent", 70, 0, 90, "gc_percent")));
  }

  private LayeredConfig load(Optional<Path> file, Map<String, String> env, Map<String, String> flags) {
    return LayeredConfig.load(schema, home, file, env, flags, cwd);
  }

  private void conf(String text) throws IOException {
    Files.writeString(home.resolve("conf/pcache.properties"), text);
  }

  @Test
  void defaultsAreTypedAndTheirSourceIsDefault() {
    LayeredConfig c = load(Optional.empty(), Map.of(), Map.of());
    assertEquals(1L << 30, c.getSize("cache.size"));
    assertEquals(Duration.ofSeconds(1), c.getDuration("cache.kset-flush-delay"));
    assertEquals(70, c.getInt("gc.threshold.percent"));
    assertEquals(true, c.getBoolean("cache.data-crc")); // data CRCs on by default for a new format (issue 15)
    assertEquals("default", c.sourceOf("cache.size"));
    assertEquals(home.resolve("data"), c.getPath("data.dir"));
    assertEquals(DeviceSpec.parse("file:" + home.resolve("data/cache.img")), c.getDevice("cache.device"));
  }

  @Test
  void precedenceIsFlagsThenEnvThenConfigFileThenConfThenDefault() throws IOException {
    conf("cache.size = 2G\nbacking.size = 8G\nfrontend = ublk\ngc.threshold.percent = 10\n");
    Path extra = Files.writeString(home.resolve("extra.properties"), "cache.size = 3G\nbacking.size = 9G\nfrontend = x\n");
    LayeredConfig c = load(Optional.of(extra),
        Map.of("PCACHE_CACHE_SIZE", "4G", "PCACHE_BACKING_SIZE", "10G", "HOME", "/root"),
        Map.of("cache.size", "5G"));
    assertEquals(5L << 30, c.getSize("cache.size"));
    assertEquals("flag --cache.size", c.sourceOf("cache.size"));
    assertEquals(10L << 30, c.getSize("backing.size"));
    assertEquals("env PCACHE_BACKING_SIZE", c.sourceOf("backing.size"));
    assertEquals("x", c.get("frontend"));
    assertEquals(extra.toString(), c.sourceOf("frontend"));
    assertEquals(10, c.getInt("gc.threshold.percent"));
    assertEquals(home.resolve("conf/pcache.properties").toString(), c.sourceOf("gc.threshold.percent"));
    assertEquals("default", c.sourceOf("cache.data-crc"));
  }

  @Test
  void badValueNamesKeyValueAndSource() throws IOException {
    ConfigException e = assertThrows(ConfigException.class,
        () -> load(Optional.empty(), Map.of("PCACHE_CACHE_SIZE", "banana"), Map.of()));
    assertEquals("bad value for configuration key 'cache.size' = 'banana' (from env PCACHE_CACHE_SIZE): not a size; "
        + "write a byte count with an optional unit K, M, G, T or P (for example 512M or 1G)", e.getMessage());
    conf("gc.threshold.percent = 95\n");
    e = assertThrows(ConfigException.class, () -> load(Optional.empty(), Map.of(), Map.of()));
    assertTrue(e.getMessage().contains("'gc.threshold.percent' = '95'"), e.getMessage());
    assertTrue(e.getMessage().contains(home.resolve("conf/pcache.properties").toString()), e.getMessage());
    assertTrue(e.getMessage().contains("from 0 to 90"), e.getMessage());
    assertTrue(!e.getMessage().contains("\n"), "one line");
  }

  @Test
  void unknownKeyInFileSuggestsTheClosest() throws IOException {
    conf("cache.sise = 2G\n");
    ConfigException e = assertThrows(ConfigException.class, () -> load(Optional.empty(), Map.of(), Map.of()));
    assertTrue(e.getMessage().startsWith("unknown configuration key 'cache.sise' = '2G' (from "
        + home.resolve("conf/pcache.properties")), e.getMessage());
    assertTrue(e.getMessage().contains("did you mean 'cache.size'?"), e.getMessage());
  }

  @Test
  void unknownEnvironmentVariableSuggestsTheClosest() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> load(Optional.empty(), Map.of("PCACHE_CACHE_SIZ", "2G"), Map.of()));
    assertTrue(e.getMessage().contains("PCACHE_CACHE_SIZ='2G'"), e.getMessage());
    assertTrue(e.getMessage().contains("did you mean PCACHE_CACHE_SIZE?"), e.getMessage());
    // Launcher variables are not configuration keys.
    load(Optional.empty(), Map.of("PCACHE_HOME", "/opt/pcache", "PCACHE_JAVA_OPTS", "-Xmx1g"), Map.of());
    // Every variable bin/pcache documents.
    load(Optional.empty(), Map.of("PCACHE_JAVA", "/usr/bin/java", "PCACHE_DEBUG", "1", "PCACHE_LOG_PATTERN", "%msg%n"),
        Map.of());
  }

  @Test
  void unknownFlagKey() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> load(Optional.empty(), Map.of(), Map.of("backing.sise", "1G")));
    assertTrue(e.getMessage().contains("did you mean 'backing.size'?"), e.getMessage());
  }

  @Test
  void missingConfigFileIsAnError() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> load(Optional.of(home.resolve("nope.properties")), Map.of(), Map.of()));
    assertTrue(e.getMessage().contains("nope.properties"), e.getMessage());
  }

  @Test
  void requiredKeyWithoutValue() {
    schema.add("test", List.of(new ConfigKey("test.required", ConfigKey.Type.STRING, null, "must be set", List.of(), Long.MIN_VALUE, Long.MAX_VALUE)));
    ConfigException e = assertThrows(ConfigException.class, () -> load(Optional.empty(), Map.of(), Map.of()));
    assertTrue(e.getMessage().startsWith("missing required configuration key 'test.required'"), e.getMessage());
    assertTrue(e.getMessage().contains("PCACHE_TEST_REQUIRED"), e.getMessage());
    assertEquals("x", load(Optional.empty(), Map.of(), Map.of("test.required", "x")).get("test.required"));
  }

  @Test
  void interpolationFollowsTheEffectiveDataDir() {
    LayeredConfig c = load(Optional.empty(), Map.of(), Map.of("data.dir", "mine"));
    assertEquals(cwd.resolve("mine"), c.getPath("data.dir"));
    assertEquals("file:" + cwd.resolve("mine/cache.img"), c.get("cache.device"));
    assertEquals("default", c.sourceOf("cache.device"));
  }

  @Test
  void relativePathsInFilesAreRelativeToHome() throws IOException {
    conf("data.dir = var/data\n");
    assertEquals(home.resolve("var/data"), load(Optional.empty(), Map.of(), Map.of()).getPath("data.dir"));
  }

  @Test
  void unresolvedVariable() throws IOException {
    conf("cache.device = file:${nowhere}/c.img\n");
    ConfigException e = assertThrows(ConfigException.class, () -> load(Optional.empty(), Map.of(), Map.of()));
    assertTrue(e.getMessage().contains("unresolved variable"), e.getMessage());
  }

  @Test
  void aKeySetTwiceInOneFileIsAnError() throws IOException {
    conf("cache.size = 1G\ncache.size = 2G\n");
    ConfigException e = assertThrows(ConfigException.class, () -> load(Optional.empty(), Map.of(), Map.of()));
    assertTrue(e.getMessage().contains("set 2 times"), e.getMessage());
  }

  @Test
  void gettersCheckTheKeyAndItsType() {
    LayeredConfig c = load(Optional.empty(), Map.of(), Map.of());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.getSize("cache.sise"));
    assertTrue(e.getMessage().contains("did you mean 'cache.size'"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> c.getInt("cache.size"));
  }

  @Test
  void keysCannotBeDeclaredTwice() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> schema.add("plugin x", List.of(ConfigKey.bool("cache.data-crc", true, "again"))));
    assertTrue(e.getMessage().contains("pcache-core") && e.getMessage().contains("plugin x"), e.getMessage());
  }
}
