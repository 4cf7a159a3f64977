package io.pcache.frontend.ublk;

import io.pcache.testkit.MapConfig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.ConfigKey;
import io.pcache.api.frontend.FrontendProvider;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/** The provider's declaration, keys and settings, and the module's wiring. */
class ProviderTest {

  @Test
  void foundThroughServiceLoaderAsUblk() {
    Module self = getClass().getModule();
    self.addUses(FrontendProvider.class);
    List<String> names = ServiceLoader.load(FrontendProvider.class).stream()
        .filter(p -> p.type().getModule().equals(self))
        .map(p -> p.get().name())
        .toList();
    assertEquals(List.of("ublk"), names);
  }

  @Test
  void onlyTheJnrPackageIsExportedAndToEveryone() {
    Module self = UblkFrontendProvider.class.getModule();
    if (self.isNamed()) {
      assertEquals(List.of("io.pcache.frontend.ublk.internal"),
          self.getDescriptor().exports().stream().map(e -> e.source()).toList());
      assertFalse(self.getDescriptor().exports().iterator().next().isQualified(),
          "jnr-ffi's generated classes live in an unnamed module");
    }
  }

  @Test
  void keysAreDocumentedUnderUblk() {
    List<ConfigKey> keys = new UblkFrontendProvider().configKeys();
    assertEquals(List.of("ublk.dev-id", "ublk.queues", "ublk.queue-depth", "ublk.max-io"),
        keys.stream().map(ConfigKey::name).toList());
    for (ConfigKey k : keys) {
      assertFalse(k.required(), k.name());
      assertTrue(k.description().length() > 20, k.name());
    }
  }

  @Test
  void defaultsMakeSettings() {
    UblkFrontendProvider p = new UblkFrontendProvider();
    UblkSettings s = UblkSettings.from(new MapConfig(p.configKeys(), Map.of()));
    assertEquals(new UblkSettings(-1, 1, 64, 512 * 1024), s);
    assertEquals(32L << 20, s.bufferBytes());
    UblkSettings t = UblkSettings.from(new MapConfig(p.configKeys(),
        Map.of("ublk.dev-id", "3", "ublk.queues", "2", "ublk.queue-depth", "128", "ublk.max-io", "1M")));
    assertEquals(new UblkSettings(3, 2, 128, 1 << 20), t);
  }

  @Test
  void settingsOutOfRangeAreRefusedWithTheKeyName() {
    UblkFrontendProvider p = new UblkFrontendProvider();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> UblkSettings.from(new MapConfig(p.configKeys(), Map.of("ublk.max-io", "6000"))));
    assertTrue(e.getMessage().startsWith("ublk.max-io"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new UblkSettings(-2, 1, 1, 4096));
    assertThrows(IllegalArgumentException.class, () -> new UblkSettings(0, 0, 1, 4096));
    assertThrows(IllegalArgumentException.class, () -> new UblkSettings(0, 1, 4097, 4096));
    assertThrows(IllegalArgumentException.class, () -> new UblkSettings(0, 1, 1, 64 << 20));
  }

  @Test
  void theRealProviderExplainsWhyUblkIsUnavailableHere() {
    // This machine (or CI) may lack the driver: then the reason is one line naming what to do.
    new UblkFrontendProvider().unavailableReason().ifPresent(reason -> {
      assertFalse(reason.contains("\n"), reason);
      assertTrue(reason.contains("ublk") || reason.contains("CAP_SYS_ADMIN") || reason.contains("libc"), reason);
    });
  }
}
