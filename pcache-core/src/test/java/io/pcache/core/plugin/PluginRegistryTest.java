package io.pcache.core.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.DeviceSpec;
import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.MediaProvider;
import java.util.List;
import org.junit.jupiter.api.Test;

class PluginRegistryTest {

  record FakeMedia(String name, List<String> aliases, int score) implements MediaProvider {
    @Override
    public String description() {
      return "fake " + name;
    }

    @Override
    public int probe(String location) {
      return location.startsWith("/dev/") ? score * 2 : score;
    }

    @Override
    public CacheMedia open(String location, MediaOptions options) {
      throw new UnsupportedOperationException();
    }
  }

  private final FakeMedia file = new FakeMedia("file", List.of(), 10);
  private final FakeMedia dax = new FakeMedia("dax", List.of("pmem"), 0);
  private final PluginRegistry registry = PluginRegistry.of(List.of(
      new ProviderEntry(ProviderKind.MEDIA, dax, "io.pcache.media.dax", "lib/"),
      new ProviderEntry(ProviderKind.MEDIA, file, "io.pcache.media.file", "lib/")));

  @Test
  void findsByNameAndAlias() {
    assertSame(file, registry.media(DeviceSpec.parse("file:/x")));
    assertSame(dax, registry.media(DeviceSpec.parse("pmem:/x")));
  }

  @Test
  void unknownNameListsWhatIsInstalled() {
    PluginException e = assertThrows(PluginException.class, () -> registry.media(DeviceSpec.parse("fiel:/x")));
    assertEquals("no media provider called 'fiel' is installed (did you mean 'file'?); installed: dax (lib/), file (lib/)",
        e.getMessage());
    e = assertThrows(PluginException.class, () -> registry.frontend("nbd"));
    assertTrue(e.getMessage().endsWith("installed: none"), e.getMessage());
  }

  @Test
  void bareLocationsGoToTheBestProbe() {
    assertSame(file, registry.media(DeviceSpec.parse("/var/lib/cache.img")));
    PluginRegistry onlyDax = PluginRegistry.of(List.of(new ProviderEntry(ProviderKind.MEDIA, dax, "m", "lib/")));
    PluginException e = assertThrows(PluginException.class, () -> onlyDax.media(DeviceSpec.parse("/x")));
    assertTrue(e.getMessage().contains("write it as scheme:path with one of: dax"), e.getMessage());
  }

  @Test
  void duplicateNamesAreConflictsNotSilentReplacements() {
    FakeMedia other = new FakeMedia("file", List.of(), 1);
    PluginRegistry r = PluginRegistry.of(List.of(
        new ProviderEntry(ProviderKind.MEDIA, file, "io.pcache.media.file", "lib/"),
        new ProviderEntry(ProviderKind.MEDIA, other, "evil.plugin", "plugins/evil.jar")));
    assertEquals(List.of("media 'file'"), List.copyOf(r.conflicts().keySet()));
    PluginException e = assertThrows(PluginException.class, () -> r.media(DeviceSpec.parse("file:/x")));
    assertTrue(e.getMessage().contains("evil.plugin (plugins/evil.jar)"), e.getMessage());
  }
}
