package io.pcache.it;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import java.util.List;
import java.util.concurrent.Executors;

/**
 * pcache's architecture rules, as functions of the root package so that the same rules run over
 * the real code ({@code io.pcache}) and over deliberately broken fixtures ({@code
 * io.pcache.it.fixture}), which proves each rule can fail.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>A plugin is one module, and its package tree is {@code ROOT.example} or {@code
 * ROOT.<family>.<name>} for the families {@code media}, {@code backing}, {@code frontend} and
 * {@code policy}: {@code io.pcache.media.file} and {@code io.pcache.media.dax} are two plugins that
 * must not see each other although they share {@code io.pcache.media}. {@link #pluginRoot} derives
 * that tree from a package name.
 */
final class PcacheRules {

  /** The plugin families under the root package, each holding one sub-package per plugin. */
  static final List<String> FAMILIES = List.of("media", "backing", "frontend", "policy");

  /** A plugin that is its own family. */
  static final String EXAMPLE = "example";

  /** Factory methods of {@link Executors} whose threads get JDK default names (pool-N-thread-M). */
  private static final List<String> UNNAMED_EXECUTORS =
      List.of("newFixedThreadPool(int)", "newCachedThreadPool()", "newSingleThreadExecutor()",
          "newScheduledThreadPool(int)", "newSingleThreadScheduledExecutor()", "newWorkStealingPool()",
          "newWorkStealingPool(int)");

  private final String root;

  PcacheRules(String root) {
    this.root = root;
  }

  /** {@code ROOT.media..}, {@code ROOT.backing..}, ..., {@code ROOT.example..}. */
  String[] pluginPackages() {
    String[] packages = new String[FAMILIES.size() + 1];
    for (int i = 0; i < FAMILIES.size(); i++) {
      packages[i] = root + "." + FAMILIES.get(i) + "..";
    }
    packages[FAMILIES.size()] = root + "." + EXAMPLE + "..";
    return packages;
  }

  /** The package tree of the plugin that {@code packageName} belongs to. */
  String pluginRoot(String packageName) {
    String rest = packageName.substring(root.length() + 1);
    String[] parts = rest.split("\\.");
    if (parts[0].equals(EXAMPLE)) {
      return root + "." + EXAMPLE;
    }
    if (FAMILIES.contains(parts[0]) && parts.length >= 2) {
      return root + "." + parts[0] + "." + parts[1];
    }
    return packageName;
  }

  static boolean inTree(String packageName, String tree) {
    return packageName.equals(tree) || packageName.startsWith(tree + ".");
  }

  ArchRule apiDependsOnlyOnJdkAndItself() {
    return classes().that().resideInAPackage(root + ".api..")
        .should().onlyDependOnClassesThat().resideInAnyPackage("java..", root + ".api..")
        .because("a plugin must need nothing but the API and the JDK (java.base)");
  }

  ArchRule apiUsesNoFrameworks() {
    return noClasses().that().resideInAPackage(root + ".api..")
        .should().dependOnClassesThat().resideInAnyPackage("com.google.inject..", "com.google.common..",
            "jakarta.inject..", "javax.inject..", "org.apache.commons..")
        .because("Guice, jakarta.inject and Apache Commons are the engine's choice, not the plugins'");
  }

  ArchRule pluginsDoNotDependOnCore() {
    return noClasses().that().resideInAnyPackage(pluginPackages())
        .should().dependOnClassesThat().resideInAPackage(root + ".core..")
        .because("plugins are written against the API only; the core exports nothing");
  }

  ArchRule pluginsUseOnlyTheApiTheirOwnTreeAndLibraries() {
    ArchCondition<JavaClass> condition = new ArchCondition<>(
        "depend on no " + root + " package but the API and their own plugin's tree") {
      @Override
      public void check(JavaClass c, ConditionEvents events) {
        String own = pluginRoot(c.getPackageName());
        for (Dependency d : c.getDirectDependenciesFromSelf()) {
          String target = d.getTargetClass().getBaseComponentType().getPackageName();
          if (inTree(target, root) && !inTree(target, root + ".api") && !inTree(target, own)) {
            events.add(SimpleConditionEvent.violated(d, d.getDescription() + " [plugin " + own + " reaches "
                + target + "]"));
          }
        }
      }
    };
    return classes().that().resideInAnyPackage(pluginPackages()).should(condition)
        .because("plugins are loaded in layers of their own and must not see each other");
  }

  ArchRule coreDependsOnNoPlugin() {
    return noClasses().that().resideInAPackage(root + ".core..")
        .should().dependOnClassesThat().resideInAnyPackage(pluginPackages())
        .because("the core finds plugins through ServiceLoader only");
  }

  ArchRule noCyclesBetweenTopLevelPackages() {
    return slices().matching(root + ".(*)..").should().beFreeOfCycles();
  }

  ArchRule noUnnamedExecutors() {
    var rule = noClasses().that().resideInAPackage(root + "..")
        .should().callMethod(Executors.class, "newFixedThreadPool", int.class)
        .orShould().callMethod(Executors.class, "newCachedThreadPool")
        .orShould().callMethod(Executors.class, "newSingleThreadExecutor")
        .orShould().callMethod(Executors.class, "newScheduledThreadPool", int.class)
        .orShould().callMethod(Executors.class, "newSingleThreadScheduledExecutor")
        .orShould().callMethod(Executors.class, "newWorkStealingPool")
        .orShould().callMethod(Executors.class, "newWorkStealingPool", int.class);
    return rule.because("threads must have names in thread dumps: use the overload with a ThreadFactory such as "
        + "Thread.ofPlatform().name(\"pcache-gc-\", 0).factory() (unnamed: " + String.join(", ", UNNAMED_EXECUTORS) + ")");
  }

  /** Every rule, for tests that run them all. */
  List<ArchRule> all() {
    return List.of(apiDependsOnlyOnJdkAndItself(), apiUsesNoFrameworks(), pluginsDoNotDependOnCore(),
        pluginsUseOnlyTheApiTheirOwnTreeAndLibraries(), coreDependsOnNoPlugin(),
        noCyclesBetweenTopLevelPackages(), noUnnamedExecutors());
  }
}
