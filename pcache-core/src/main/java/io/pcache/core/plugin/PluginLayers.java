package io.pcache.core.plugin;

import java.io.IOException;
import java.lang.module.Configuration;
import java.lang.module.FindException;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.lang.module.ResolutionException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Builds module layers from the installation's {@code plugins/} directory, so that a third party
 * adds a provider by dropping a jar there, without touching {@code lib/}.
 *
 * <p>Layout: all jars directly in {@code plugins/} form one layer; each sub-directory of {@code
 * plugins/} forms a layer of its own (a plugin that brings its own dependencies, isolated from the
 * others, as Layrry does). Every layer's parent is the layer that holds {@code io.pcache.api}, so a
 * plugin sees the API and the JDK, and any library in {@code lib/} it {@code requires}, but no other
 * plugin. A jar without a module descriptor becomes an automatic module; its providers are found
 * through {@code META-INF/services}.
 *
 * <p>Problems (a broken jar, a missing dependency, two jars with the same module) are reported as
 * {@link PluginException} naming the directory or jar.
 */
public final class PluginLayers {

  /** The origin label of providers from the plugins directory. */
  public static final String PLUGINS_DIR = "plugins/";

  /** A layer built from {@code dir}, a sub-directory of {@code plugins/} or {@code plugins/} itself. */
  public record PluginLayer(ModuleLayer layer, Path pluginsDir) {

    /** {@code plugins/<jar>} for a module of this layer, or {@code null} when it is not in it. */
    String originOf(Module module) {
      if (module.getLayer() != layer) {
        return null;
      }
      return layer.configuration().findModule(module.getName())
          .flatMap(m -> m.reference().location())
          .map(uri -> PLUGINS_DIR + pluginsDir.relativize(Path.of(uri)).toString())
          .orElse(PLUGINS_DIR);
    }
  }

  private PluginLayers() {}

  /**
   * Builds the plugin layers found under {@code pluginsDir}; none when it does not exist.
   *
   * @param parent the layer holding {@code io.pcache.api} (the boot layer in a real launch)
   */
  public static List<PluginLayer> build(Path pluginsDir, ModuleLayer parent, ClassLoader parentLoader) {
    List<PluginLayer> layers = new ArrayList<>();
    if (!Files.isDirectory(pluginsDir)) {
      return layers;
    }
    List<Path> looseJars = new ArrayList<>();
    List<Path> subdirs = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(pluginsDir)) {
      for (Path p : entries) {
        if (Files.isDirectory(p)) {
          subdirs.add(p);
        } else if (p.getFileName().toString().endsWith(".jar")) {
          looseJars.add(p);
        }
      }
    } catch (IOException e) {
      throw new PluginException("cannot list plugin directory " + pluginsDir + ": " + e.getMessage(), e);
    }
    looseJars.sort(null);
    subdirs.sort(null);
    Path base = pluginsDir.toAbsolutePath().normalize();
    if (!looseJars.isEmpty()) {
      layers.add(new PluginLayer(define(looseJars, parent, parentLoader, pluginsDir.toString()), base));
    }
    for (Path dir : subdirs) {
      layers.add(new PluginLayer(define(List.of(dir), parent, parentLoader, dir.toString()), base));
    }
    return layers;
  }

  private static ModuleLayer define(List<Path> paths, ModuleLayer parent, ClassLoader parentLoader, String where) {
    try {
      ModuleFinder finder = ModuleFinder.of(paths.toArray(Path[]::new));
      Set<String> roots = finder.findAll().stream()
          .map(ModuleReference::descriptor)
          .map(d -> d.name())
          .collect(Collectors.toSet());
      if (roots.isEmpty()) {
        throw new PluginException("no plugin module found in " + where);
      }
      Configuration cf = parent.configuration().resolveAndBind(finder, ModuleFinder.of(), roots);
      return parent.defineModulesWithOneLoader(cf, parentLoader);
    } catch (FindException | ResolutionException | LayerInstantiationException e) {
      throw new PluginException("cannot load plugins from " + where + ": " + e.getMessage(), e);
    }
  }

  /** The label of where a provider class came from: {@code lib/} or {@code plugins/<jar>}. */
  static String originOf(Class<?> type, List<PluginLayer> layers) {
    for (PluginLayer pl : layers) {
      String origin = pl.originOf(type.getModule());
      if (origin != null) {
        return origin;
      }
    }
    return "lib/";
  }
}
