package io.pcache.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.ConfigKey;
import io.pcache.api.DeviceSpec;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ValuesTest {

  @Test
  void sizesTakeBinaryUnits() {
    assertEquals(4096, Values.parseSize("4096"));
    assertEquals(512L << 10, Values.parseSize("512K"));
    assertEquals(1L << 30, Values.parseSize("1G"));
    assertEquals(1L << 30, Values.parseSize("1GiB"));
    assertEquals(1L << 30, Values.parseSize(" 1g "));
    assertEquals(2L << 40, Values.parseSize("2T"));
    assertEquals(512L << 20, Values.parseSize("512MB"));
  }

  @Test
  void badSizesSayWhatIsExpected() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Values.parseSize("banana"));
    assertTrue(e.getMessage().contains("512M"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Values.parseSize("-1G"));
    assertThrows(IllegalArgumentException.class, () -> Values.parseSize("1.5G"));
    assertThrows(IllegalArgumentException.class, () -> Values.parseSize("99999999999P"));
    assertThrows(IllegalArgumentException.class, () -> Values.parseSize("99999999999999999999"));
  }

  @Test
  void durations() {
    assertEquals(Duration.ofMillis(250), Values.parseDuration("250ms"));
    assertEquals(Duration.ofSeconds(5), Values.parseDuration("5s"));
    assertEquals(Duration.ofMinutes(2), Values.parseDuration("2m"));
    assertEquals(Duration.ofHours(1), Values.parseDuration("1h"));
    assertEquals(Duration.ofMillis(30), Values.parseDuration("30"));
    assertThrows(IllegalArgumentException.class, () -> Values.parseDuration("5 parsecs"));
  }

  @Test
  void booleans() {
    assertTrue(Values.parseBoolean("yes"));
    assertTrue(Values.parseBoolean("TRUE"));
    assertFalse(Values.parseBoolean("off"));
    assertThrows(IllegalArgumentException.class, () -> Values.parseBoolean("maybe"));
  }

  @Test
  void rangesAndChoicesAreChecked() {
    ConfigKey percent = ConfigKey.integer("gc.percent", 70, 0, 90, "x");
    assertEquals(90L, Values.parse(percent, "90"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Values.parse(percent, "91"));
    assertEquals("out of range: must be from 0 to 90", e.getMessage());
    ConfigKey size = ConfigKey.size("cache.size", "1G", 512L << 20, Long.MAX_VALUE, "x");
    e = assertThrows(IllegalArgumentException.class, () -> Values.parse(size, "100M"));
    assertEquals("out of range: must be at least 512M", e.getMessage());
    ConfigKey mode = ConfigKey.choice("tls.mode", "off", List.of("off", "optional", "required"), "x");
    e = assertThrows(IllegalArgumentException.class, () -> Values.parse(mode, "requried"));
    assertTrue(e.getMessage().contains("did you mean 'required'"), e.getMessage());
  }

  @Test
  void devicesAndAddresses() {
    assertEquals(DeviceSpec.parse("file:/a"), Values.parse(ConfigKey.device("d", "x", "x"), "file:/a"));
    ConfigKey listen = ConfigKey.address("nbd.listen", "127.0.0.1:10809", "x");
    assertEquals("[::1]:10809", Values.parse(listen, "[::1]:10809"));
    assertEquals("unix:/run/pcache.sock", Values.parse(listen, "unix:/run/pcache.sock"));
    assertThrows(IllegalArgumentException.class, () -> Values.parse(listen, "localhost"));
    assertThrows(IllegalArgumentException.class, () -> Values.parse(listen, "localhost:70000"));
  }

  @Test
  void human() {
    assertEquals("512M", Values.human(512L << 20));
    assertEquals("1000", Values.human(1000));
    assertEquals("3K", Values.human(3072));
  }
}
