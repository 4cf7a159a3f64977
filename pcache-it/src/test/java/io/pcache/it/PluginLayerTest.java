package io.pcache.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.module.Configuration;
import java.lang.module.ModuleDescriptor.Requires;
import java.lang.module.ModuleFinder;
import java.lang.module.FindException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.List;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The example plugin works as a third party's plugin would: in a module layer of its own, built
 * from nothing but its jar and the API jar, found through ServiceLoader, used through the API.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>The tests run on the class path, so the boot layer holds only JDK modules and the {@code
 * io.pcache.api} classes on the class path belong to the unnamed module. The layer built here
 * resolves {@code io.pcache.api} and {@code io.pcache.example} from their jars against the boot
 * configuration (which supplies {@code java.base}) and gives them one class loader whose parent
 * is the platform loader, so nothing from the class path leaks in: the API classes in the layer
 * are distinct from the test's own, and the plugin is reached by reflection through the layer's
 * API interfaces, as the core reaches plugins from {@code plugins/}.
 */
class PluginLayerTest {

  private static final String API = "io.pcache.api";
  private static final String EXAMPLE = "io.pcache.example";

  private static ModuleLayer layer;

  @BeforeAll
  static void buildLayer() {
    ModuleFinder finder = ModuleFinder.of(ModuleJars.location(API), ModuleJars.location(EXAMPLE));
    Configuration cf = ModuleLayer.boot().configuration()
        .resolveAndBind(finder, ModuleFinder.of(), Set.of(EXAMPLE));
    layer = ModuleLayer.boot().defineModulesWithOneLoader(cf, ClassLoader.getPlatformClassLoader());
  }

  @Test
  void layerHoldsJustTheApiAndThePlugin() {
    Set<String> names = layer.modules().stream().map(Module::getName).collect(Collectors.toSet());
    assertEquals(Set.of(API, EXAMPLE), names);
    Set<String> requires = layer.findModule(EXAMPLE).orElseThrow().getDescriptor().requires().stream()
        .map(Requires::name).collect(Collectors.toSet());
    assertEquals(Set.of("java.base", API), requires);
  }

  @Test
  void pluginWithoutTheApiDoesNotResolve() {
    ModuleFinder pluginOnly = ModuleFinder.of(ModuleJars.location(EXAMPLE));
    FindException e = assertThrows(FindException.class,
        () -> ModuleLayer.boot().configuration().resolveAndBind(pluginOnly, ModuleFinder.of(), Set.of(EXAMPLE)));
    assertTrue(e.getMessage().contains(API), e.getMessage());
  }

  @Test
  void memProviderIsFoundAndWorksThroughTheLayer() throws Exception {
    ClassLoader loader = layer.findLoader(API);
    Class<?> mediaProvider = loader.loadClass("io.pcache.api.media.MediaProvider");
    Class<?> mediaOptions = loader.loadClass("io.pcache.api.media.MediaOptions");
    Class<?> cacheMedia = loader.loadClass("io.pcache.api.media.CacheMedia");
    assertNotSame(io.pcache.api.media.MediaProvider.class, mediaProvider, "the layer has its own API classes");
    assertSame(layer.findModule(API).orElseThrow(), mediaProvider.getModule());

    List<?> providers = ServiceLoader.load(layer, mediaProvider).stream()
        .map(ServiceLoader.Provider::get).toList();
    assertEquals(1, providers.size(), "providers in the layer: " + providers);
    Object mem = providers.getFirst();
    assertEquals(EXAMPLE, mem.getClass().getModule().getName());
    assertEquals("mem", mediaProvider.getMethod("name").invoke(mem));

    Object options = mediaOptions.getMethod("create", long.class).invoke(null, 65536L);
    Object media = mediaProvider.getMethod("open", String.class, mediaOptions).invoke(mem, "64K", options);
    Method write = cacheMedia.getMethod("write", long.class, MemorySegment.class);
    Method read = cacheMedia.getMethod("read", long.class, MemorySegment.class);
    Method persist = cacheMedia.getMethod("persist", long.class, long.class);
    Method close = cacheMedia.getMethod("close");
    try {
      assertEquals(65536L, cacheMedia.getMethod("size").invoke(media));
      assertEquals("VOLATILE", cacheMedia.getMethod("persistenceDomain").invoke(media).toString());
      byte[] data = "through a plugin layer".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      write.invoke(media, 65536L - data.length, MemorySegment.ofArray(data));
      persist.invoke(media, 65536L - data.length, (long) data.length);
      byte[] back = new byte[data.length];
      read.invoke(media, 65536L - data.length, MemorySegment.ofArray(back));
      assertArrayEquals(data, back);

      InvocationTargetException outside = assertThrows(InvocationTargetException.class,
          () -> write.invoke(media, 65536L - 1, MemorySegment.ofArray(data)));
      assertTrue(outside.getCause() instanceof IndexOutOfBoundsException, outside.getCause().toString());
    } finally {
      close.invoke(media);
    }
    InvocationTargetException closed = assertThrows(InvocationTargetException.class,
        () -> read.invoke(media, 0L, MemorySegment.ofArray(new byte[1])));
    assertTrue(closed.getCause() instanceof IllegalStateException, closed.getCause().toString());
  }

  @Test
  void implementationPackageIsNotExported() {
    Module example = layer.findModule(EXAMPLE).orElseThrow();
    assertEquals(Set.of(), example.getDescriptor().exports());
    assertTrue(!example.isExported("io.pcache.example"));
    Path jar = ModuleJars.location(EXAMPLE);
    assertTrue(jar.toString().endsWith(".jar") || jar.toFile().isDirectory(), jar.toString());
  }
}
