package io.pcache.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The architecture rules of {@link PcacheRules} over the production classes of every pcache
 * module (the jars on this module's test class path; tests excluded).
 */
class ArchitectureTest {

  private static final PcacheRules RULES = new PcacheRules("io.pcache");
  private static JavaClasses classes;

  @BeforeAll
  static void importClasses() {
    classes = new ClassFileImporter()
        .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages("io.pcache");
  }

  /** Guards against vacuous rules: the import must really see the modules the rules are about. */
  @Test
  void importSeesTheModules() {
    Set<String> packages = new TreeSet<>();
    for (JavaClass c : classes) {
      packages.add(c.getPackageName());
    }
    for (String expected : Set.of("io.pcache.api", "io.pcache.api.media", "io.pcache.api.gc", "io.pcache.policy.gc",
        "io.pcache.example", "io.pcache.testkit")) {
      assertTrue(packages.contains(expected), "no classes imported from " + expected + "; imported: " + packages);
    }
    assertTrue(packages.stream().anyMatch(p -> p.startsWith("io.pcache.core")),
        "no classes imported from io.pcache.core; imported: " + packages);
    assertTrue(packages.stream().noneMatch(p -> p.startsWith("io.pcache.it")),
        "test classes must not be imported: " + packages);
  }

  @Test
  void apiDependsOnlyOnJdkAndItself() {
    RULES.apiDependsOnlyOnJdkAndItself().check(classes);
  }

  @Test
  void apiUsesNoFrameworks() {
    RULES.apiUsesNoFrameworks().check(classes);
  }

  @Test
  void pluginsDoNotDependOnCore() {
    RULES.pluginsDoNotDependOnCore().check(classes);
  }

  @Test
  void pluginsUseOnlyTheApiTheirOwnTreeAndLibraries() {
    RULES.pluginsUseOnlyTheApiTheirOwnTreeAndLibraries().check(classes);
  }

  @Test
  void coreDependsOnNoPlugin() {
    RULES.coreDependsOnNoPlugin().check(classes);
  }

  @Test
  void noCyclesBetweenTopLevelPackages() {
    RULES.noCyclesBetweenTopLevelPackages().check(classes);
  }

  @Test
  void noUnnamedExecutors() {
    RULES.noUnnamedExecutors().check(classes);
  }
}
