package io.pcache.core.plugin;

import io.pcache.api.DeviceSpec;
import io.pcache.api.Provider;
import io.pcache.api.backing.BackingProvider;
import io.pcache.api.frontend.FrontendProvider;
import io.pcache.api.gc.GcPolicyProvider;
import io.pcache.api.media.MediaProvider;
import io.pcache.core.config.Suggestions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.function.ToIntFunction;
import java.util.stream.Collectors;

/**
 * Every provider this installation has, found through {@link ServiceLoader} in the layer that
 * holds pcache-core ({@code lib/}) and in the plugin layers built from {@code plugins/}, looked
 * up by kind and name.
 *
 * <p>Two providers of the same kind and name are a conflict: both are listed, and asking for that
 * name is an error naming both modules, so that a plugin never silently replaces a built-in.
 *
 * <p>Immutable once loaded; thread-safe.
 */
public final class PluginRegistry {

  private final List<ProviderEntry> entries;

  private PluginRegistry(List<ProviderEntry> entries) {
    this.entries = List.copyOf(entries);
  }

  /**
   * Loads the built-in providers and those in {@code pluginsDir} (which may be missing).
   *
   * @throws PluginException when a plugin jar cannot be loaded
   */
  public static PluginRegistry load(Path pluginsDir) {
    Module api = Provider.class.getModule();
    ModuleLayer apiLayer = api.getLayer() != null ? api.getLayer() : ModuleLayer.boot();
    ClassLoader loader = PluginRegistry.class.getClassLoader();
    List<PluginLayers.PluginLayer> layers = PluginLayers.build(pluginsDir, apiLayer, loader);
    List<ProviderEntry> found = new ArrayList<>();
    for (ProviderKind kind : ProviderKind.values()) {
      // The caller's loader sees lib/ (module path or class path); each plugin layer adds its own.
      collect(kind, ServiceLoader.load(kind.service(), loader), layers, found, null);
      for (PluginLayers.PluginLayer layer : layers) {
        collect(kind, ServiceLoader.load(layer.layer(), kind.service()), layers, found, layer.layer());
      }
    }
    found.sort(Comparator.comparing((ProviderEntry e) -> e.kind()).thenComparing(ProviderEntry::name)
        .thenComparing(ProviderEntry::origin));
    return new PluginRegistry(found);
  }

  /** A registry of exactly these entries, for tests. */
  public static PluginRegistry of(List<ProviderEntry> entries) {
    return new PluginRegistry(entries);
  }

  private static void collect(ProviderKind kind, ServiceLoader<? extends Provider> loader,
      List<PluginLayers.PluginLayer> layers, List<ProviderEntry> found, ModuleLayer only) {
    loader.stream()
        .filter(p -> only == null || p.type().getModule().getLayer() == only)
        .forEach(p -> {
          Provider provider;
          try {
            provider = p.get();
          } catch (java.util.ServiceConfigurationError e) {
            throw new PluginException("cannot create " + kind.label() + " provider " + p.type().getName()
                + " from " + PluginLayers.originOf(p.type(), layers) + ": " + e.getMessage(), e);
          }
          Module m = p.type().getModule();
          found.add(new ProviderEntry(kind, provider, m.isNamed() ? m.getName() : "unnamed",
              PluginLayers.originOf(p.type(), layers)));
        });
  }

  /** All providers, by kind then name. */
  public List<ProviderEntry> entries() {
    return entries;
  }

  /** The providers of one kind. */
  public List<ProviderEntry> entries(ProviderKind kind) {
    return entries.stream().filter(e -> e.kind() == kind).toList();
  }

  /** Names that more than one provider of the same kind answers to, with the entries. */
  public Map<String, List<ProviderEntry>> conflicts() {
    Map<String, List<ProviderEntry>> conflicts = new LinkedHashMap<>();
    for (ProviderKind kind : ProviderKind.values()) {
      Map<String, List<ProviderEntry>> byName = new LinkedHashMap<>();
      for (ProviderEntry e : entries(kind)) {
        byName.computeIfAbsent(e.name(), n -> new ArrayList<>()).add(e);
        for (String alias : e.provider().aliases()) {
          byName.computeIfAbsent(alias, n -> new ArrayList<>()).add(e);
        }
      }
      byName.forEach((name, list) -> {
        if (list.size() > 1) {
          conflicts.put(kind.label() + " '" + name + "'", Collections.unmodifiableList(list));
        }
      });
    }
    return conflicts;
  }

  /**
   * The provider of {@code kind} called {@code name} (or with that alias).
   *
   * @throws PluginException when there is none (listing what is installed and the closest name)
   *     or more than one
   */
  public <P extends Provider> P find(ProviderKind kind, Class<P> type, String name) {
    List<ProviderEntry> matches = entries(kind).stream().filter(e -> e.answersTo(name)).toList();
    if (matches.size() > 1) {
      throw new PluginException("more than one " + kind.label() + " provider is called '" + name + "': "
          + matches.stream().map(e -> e.module() + " (" + e.origin() + ")").collect(Collectors.joining(", "))
          + "; remove one of them from plugins/");
    }
    if (matches.isEmpty()) {
      List<String> names = entries(kind).stream().map(ProviderEntry::name).toList();
      throw new PluginException("no " + kind.label() + " provider called '" + name + "' is installed"
          + Suggestions.closest(name, names).map(c -> " (did you mean '" + c + "'?)").orElse("") + "; installed: "
          + (names.isEmpty() ? "none" : entries(kind).stream().map(e -> e.name() + " (" + e.origin() + ")")
              .collect(Collectors.joining(", "))));
    }
    return type.cast(matches.get(0).provider());
  }

  public MediaProvider media(DeviceSpec spec) {
    return spec.scheme().map(s -> find(ProviderKind.MEDIA, MediaProvider.class, s))
        .orElseGet(() -> probe(ProviderKind.MEDIA, MediaProvider.class, spec, p -> p.probe(spec.location())));
  }

  public BackingProvider backing(DeviceSpec spec) {
    return spec.scheme().map(s -> find(ProviderKind.BACKING, BackingProvider.class, s))
        .orElseGet(() -> probe(ProviderKind.BACKING, BackingProvider.class, spec, p -> p.probe(spec.location())));
  }

  public FrontendProvider frontend(String name) {
    return find(ProviderKind.FRONTEND, FrontendProvider.class, name);
  }

  public GcPolicyProvider gcPolicy(String name) {
    return find(ProviderKind.GC_POLICY, GcPolicyProvider.class, name);
  }

  /** The provider that probes best for a bare path; ties go to the first by name. */
  private <P extends Provider> P probe(ProviderKind kind, Class<P> type, DeviceSpec spec, ToIntFunction<P> score) {
    P best = null;
    int bestScore = 0;
    for (ProviderEntry e : entries(kind)) {
      P p = type.cast(e.provider());
      int s = score.applyAsInt(p);
      if (s > bestScore) {
        best = p;
        bestScore = s;
      }
    }
    if (best == null) {
      throw new PluginException("no " + kind.label() + " provider can open '" + spec.location()
          + "'; write it as scheme:path with one of: "
          + entries(kind).stream().map(ProviderEntry::name).collect(Collectors.joining(", ")));
    }
    return best;
  }
}
