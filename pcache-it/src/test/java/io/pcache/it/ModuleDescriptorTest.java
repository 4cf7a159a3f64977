package io.pcache.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleDescriptor.Exports;
import java.lang.module.ModuleDescriptor.Provides;
import java.lang.module.ModuleDescriptor.Requires;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * What every pcache module descriptor must say: module-info.java is the one record of wiring
 * (STYLE.md, example 10), so the wiring is asserted here, from the built jars.
 */
class ModuleDescriptorTest {

  static final String API = "io.pcache.api";
  static final String CORE = "io.pcache.core";

  /** Every pcache module, explicit (with a module-info), on the class path. */
  static final Set<String> MODULES = Set.of(API, CORE, "io.pcache.testkit", "io.pcache.media.file",
      "io.pcache.media.dax", "io.pcache.backing.block", "io.pcache.frontend.nbd", "io.pcache.frontend.ublk",
      "io.pcache.policy.gc", "io.pcache.example");

  /** The plugin modules: everything but the API, the core and the test kit. */
  static final Set<String> PLUGINS = Set.of("io.pcache.media.file", "io.pcache.media.dax", "io.pcache.backing.block",
      "io.pcache.frontend.nbd", "io.pcache.frontend.ublk", "io.pcache.policy.gc", "io.pcache.example");

  /** Last segments of packages a plugin may export, and then only for a JNR interface. */
  static final Set<String> JNR_PACKAGE_NAMES = Set.of("internal", "nativeio");

  private static ModuleDescriptor descriptor(String module) {
    return ModuleJars.get(module).descriptor();
  }

  @Test
  void everyModuleIsAnExplicitModule() {
    for (String m : MODULES) {
      ModuleDescriptor d = descriptor(m);
      assertFalse(d.isAutomatic(), m + " has no module-info (automatic module from " + ModuleJars.location(m) + ")");
      assertFalse(d.isOpen(), m + " is an open module: open only what a framework needs, to that framework");
    }
  }

  @Test
  void apiRequiresOnlyJavaBase() {
    Set<String> requires = descriptor(API).requires().stream().map(Requires::name).collect(Collectors.toSet());
    assertEquals(Set.of("java.base"), requires);
  }

  @Test
  void apiExportsExactlyTheSpiPackagesToEveryone() {
    ModuleDescriptor d = descriptor(API);
    Set<String> exported = new TreeSet<>();
    for (Exports e : d.exports()) {
      assertFalse(e.isQualified(), API + " exports " + e.source() + " only to " + e.targets());
      exported.add(e.source());
    }
    assertEquals(new TreeSet<>(Set.of("io.pcache.api", "io.pcache.api.media", "io.pcache.api.backing",
        "io.pcache.api.frontend", "io.pcache.api.gc")), exported);
  }

  @Test
  void coreUsesTheFourProviderInterfaces() {
    assertTrue(descriptor(CORE).uses().containsAll(Set.of("io.pcache.api.media.MediaProvider",
        "io.pcache.api.backing.BackingProvider", "io.pcache.api.frontend.FrontendProvider",
        "io.pcache.api.gc.GcPolicyProvider")), "core uses " + descriptor(CORE).uses());
  }

  @ParameterizedTest(name = "{0} provides {1}")
  @CsvSource({
      "io.pcache.media.file, io.pcache.api.media.MediaProvider, ''",
      "io.pcache.backing.block, io.pcache.api.backing.BackingProvider, ''",
      "io.pcache.policy.gc, io.pcache.api.gc.GcPolicyProvider,"
          + " io.pcache.policy.gc.ThresholdGcPolicyProvider io.pcache.policy.gc.WatermarkGcPolicyProvider",
      "io.pcache.example, io.pcache.api.media.MediaProvider, io.pcache.example.MemMediaProvider",
  })
  void pluginProvides(String module, String service, String implementations) {
    ModuleDescriptor d = descriptor(module);
    Optional<Provides> provides = d.provides().stream().filter(p -> p.service().equals(service)).findFirst();
    assertTrue(provides.isPresent(), module + " does not provide " + service + "; it provides " + d.provides());
    for (String impl : implementations.isBlank() ? new String[0] : implementations.split(" ")) {
      assertTrue(provides.get().providers().contains(impl), module + " provides " + service + " with "
          + provides.get().providers() + ", not " + impl);
    }
    for (String impl : provides.get().providers()) {
      String pkg = impl.substring(0, impl.lastIndexOf('.'));
      assertTrue(d.packages().contains(pkg), module + " provides " + impl + " from a package it does not contain");
    }
  }

  @Test
  void pluginsRequireTheApiAndNeverTheCore() {
    for (String m : PLUGINS) {
      Set<String> requires = descriptor(m).requires().stream().map(Requires::name).collect(Collectors.toSet());
      assertTrue(requires.contains(API), m + " does not require " + API + ": " + requires);
      assertFalse(requires.contains(CORE), m + " requires " + CORE + ": plugins are written against the API only");
      assertFalse(requires.stream().anyMatch(r -> PLUGINS.contains(r)), m + " requires another plugin: " + requires);
    }
  }

  /**
   * Plugins export nothing, except a package named {@code internal} or {@code nativeio} that
   * holds a JNR interface (jnr-ffi generates its implementation in an unnamed module, which can
   * only reach packages exported without qualification).
   */
  @Test
  void pluginImplementationPackagesAreNotExported() {
    List<String> problems = new ArrayList<>();
    for (String m : PLUGINS) {
      ModuleDescriptor d = descriptor(m);
      for (Exports e : d.exports()) {
        String last = e.source().substring(e.source().lastIndexOf('.') + 1);
        if (!JNR_PACKAGE_NAMES.contains(last)) {
          problems.add(m + " exports " + e.source() + " (plugins export nothing; a JNR interface may live in a package"
              + " named " + JNR_PACKAGE_NAMES + ")");
        } else if (!holdsJnrInterface(m, e.source())) {
          problems.add(m + " exports " + e.source() + ", which holds no JNR interface");
        }
      }
    }
    assertEquals(List.of(), problems);
  }

  /**
   * Whether {@code pkg} of {@code module} holds an interface that jnr-ffi loads: the interface
   * itself refers to {@code jnr.ffi} (types, annotations, a LibraryLoader call), or some class of
   * the module refers to both the interface and {@code jnr.ffi.LibraryLoader}.
   */
  static boolean holdsJnrInterface(String module, String pkg) {
    JavaClasses classes = ModuleJars.importClasses(module);
    List<JavaClass> loaders = classes.stream()
        .filter(c -> dependsOn(c, "jnr.ffi.LibraryLoader"))
        .toList();
    return classes.stream()
        .filter(c -> c.isInterface() && c.getPackageName().equals(pkg))
        .anyMatch(i -> i.getDirectDependenciesFromSelf().stream()
                .anyMatch(d -> d.getTargetClass().getPackageName().startsWith("jnr.ffi"))
            || loaders.stream().anyMatch(l -> dependsOn(l, i.getName())));
  }

  @Test
  void aPackageWithoutJnrInterfaceIsRecognised() {
    assertFalse(holdsJnrInterface("io.pcache.example", "io.pcache.example"));
    assertFalse(holdsJnrInterface("io.pcache.api", "io.pcache.api.media"), "plain interfaces are not JNR interfaces");
  }

  private static boolean dependsOn(JavaClass c, String className) {
    for (Dependency d : c.getDirectDependenciesFromSelf()) {
      if (d.getTargetClass().getName().equals(className)) {
        return true;
      }
    }
    return false;
  }
}
