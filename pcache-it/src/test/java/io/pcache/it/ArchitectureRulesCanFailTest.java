package io.pcache.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.lang.ArchRule;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Each rule of {@link PcacheRules} rejects the broken fixtures in {@code io.pcache.it.fixture}
 * for the right reason, and leaves the innocent fixtures alone.
 */
class ArchitectureRulesCanFailTest {

  private static final String ROOT = "io.pcache.it.fixture";
  private static final PcacheRules RULES = new PcacheRules(ROOT);
  private static JavaClasses fixtures;

  @BeforeAll
  static void importFixtures() {
    fixtures = new ClassFileImporter().importPackages(ROOT);
  }

  private static String failure(ArchRule rule) {
    AssertionError e = assertThrows(AssertionError.class, () -> rule.check(fixtures), rule.getDescription());
    String message = e.getMessage();
    assertFalse(message.contains("CleanPlugin"), "the clean plugin was flagged: " + message);
    return message;
  }

  @Test
  void pluginRootsSeparatePluginsOfOneFamily() {
    assertEquals(ROOT + ".media.one", RULES.pluginRoot(ROOT + ".media.one.internal"));
    assertEquals(ROOT + ".media.two", RULES.pluginRoot(ROOT + ".media.two"));
    assertEquals(ROOT + ".example", RULES.pluginRoot(ROOT + ".example.deep.er"));
    assertEquals(ROOT + ".policy.gc", RULES.pluginRoot(ROOT + ".policy.gc"));
  }

  @Test
  void apiLeakingAFrameworkIsCaught() {
    String m = failure(RULES.apiDependsOnlyOnJdkAndItself());
    assertTrue(m.contains("LeakyPort") && m.contains("jakarta.inject.Provider"), m);
    m = failure(RULES.apiUsesNoFrameworks());
    assertTrue(m.contains("LeakyPort") && m.contains("jakarta.inject.Provider"), m);
  }

  @Test
  void pluginSeeingTheCoreIsCaught() {
    String m = failure(RULES.pluginsDoNotDependOnCore());
    assertTrue(m.contains("OneMedia") && m.contains("Engine"), m);
  }

  @Test
  void pluginSeeingAnotherPluginIsCaughtButItsOwnTreeIsFine() {
    String m = failure(RULES.pluginsUseOnlyTheApiTheirOwnTreeAndLibraries());
    assertTrue(m.contains("plugin " + ROOT + ".media.one reaches " + ROOT + ".media.two"), m);
    assertTrue(m.contains("plugin " + ROOT + ".media.one reaches " + ROOT + ".core"), m);
    assertFalse(m.contains("reaches " + ROOT + ".media.one.internal"), m);
    assertFalse(m.contains("reaches " + ROOT + ".api"), m);
  }

  @Test
  void coreSeeingAPluginIsCaught() {
    String m = failure(RULES.coreDependsOnNoPlugin());
    assertTrue(m.contains("Engine") && m.contains("OneMedia"), m);
  }

  @Test
  void packageCycleIsCaught() {
    String m = failure(RULES.noCyclesBetweenTopLevelPackages());
    assertTrue(m.contains("core") && m.contains("media"), m);
  }

  @Test
  void unnamedExecutorIsCaughtNamedOnesAreNot() {
    String m = failure(RULES.noUnnamedExecutors());
    assertTrue(m.contains("TwoMedia") && m.contains("Executors.newFixedThreadPool(int)>"), m);
    assertFalse(m.contains("ThreadFactory)>"), m);
    assertFalse(m.contains("newVirtualThreadPerTaskExecutor"), m);
  }
}
