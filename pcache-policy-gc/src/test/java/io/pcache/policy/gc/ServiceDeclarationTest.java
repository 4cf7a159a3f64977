package io.pcache.policy.gc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pcache.api.gc.GcPolicyProvider;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The providers are found through ServiceLoader, i.e. module-info declares them. */
class ServiceDeclarationTest {

  @Test
  void bothPoliciesAreFoundThroughServiceLoader() {
    Module self = getClass().getModule();
    // Surefire patches the tests into the module; this module only provides, it does not use.
    self.addUses(GcPolicyProvider.class);
    Set<String> names = new TreeSet<>();
    ServiceLoader.load(GcPolicyProvider.class).stream()
        .filter(p -> p.type().getModule().equals(self))
        .forEach(p -> names.add(p.get().name()));
    assertEquals(Set.of("threshold", "watermark"), names);
  }
}
