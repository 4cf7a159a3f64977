package io.pcache.it;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.module.FindException;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.jar.JarFile;

/**
 * The pcache modules on this test's class path, found by reading every class-path entry (a jar,
 * or a {@code target/classes} directory in a reactor build) with {@link ModuleFinder}.
 */
final class ModuleJars {

  private static final Map<String, ModuleReference> PCACHE = scan();

  private ModuleJars() {}

  private static Map<String, ModuleReference> scan() {
    Map<String, ModuleReference> found = new TreeMap<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      Path path = Path.of(entry);
      boolean jar = entry.endsWith(".jar") && Files.isRegularFile(path);
      boolean exploded = Files.isRegularFile(path.resolve("module-info.class"));
      if (!jar && !exploded) {
        continue;
      }
      try {
        for (ModuleReference ref : ModuleFinder.of(path).findAll()) {
          if (ref.descriptor().name().startsWith("io.pcache.")) {
            found.put(ref.descriptor().name(), ref);
          }
        }
      } catch (FindException e) {
        // Not a usable module (for example a jar whose name gives no automatic module name): not ours.
      }
    }
    return found;
  }

  /** Every pcache module on the class path, by name. */
  static Map<String, ModuleReference> all() {
    return PCACHE;
  }

  static Optional<ModuleReference> find(String moduleName) {
    return Optional.ofNullable(PCACHE.get(moduleName));
  }

  /** The module's reference, or an assertion error saying where it was looked for. */
  static ModuleReference get(String moduleName) {
    ModuleReference ref = PCACHE.get(moduleName);
    if (ref == null) {
      throw new AssertionError("module " + moduleName + " is not on the test class path (found " + PCACHE.keySet()
          + "); is its artifact a test dependency of pcache-it and installed?");
    }
    return ref;
  }

  /**
   * The classes of a module, imported by ArchUnit from its jar or directory.
   *
   * @throws AssertionError when the module holds no classes at all, so that a check over them
   *     is never vacuous
   */
  static JavaClasses importClasses(String moduleName) {
    Path location = location(moduleName);
    JavaClasses classes;
    if (Files.isDirectory(location)) {
      classes = new ClassFileImporter().importPath(location);
    } else {
      try (JarFile jar = new JarFile(location.toFile())) {
        classes = new ClassFileImporter().importJar(jar);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + location, e);
      }
    }
    if (classes.isEmpty()) {
      throw new AssertionError("no classes imported from module " + moduleName + " at " + location);
    }
    return classes;
  }

  /** The jar or directory the module was read from. */
  static Path location(String moduleName) {
    return Path.of(get(moduleName).location().orElseThrow(
        () -> new AssertionError("module " + moduleName + " has no location")));
  }
}
