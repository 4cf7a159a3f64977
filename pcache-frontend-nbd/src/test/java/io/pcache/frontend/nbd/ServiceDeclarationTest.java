package io.pcache.frontend.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.pcache.api.frontend.FrontendProvider;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/** The provider is found through ServiceLoader (module-info declares it) and exports nothing. */
class ServiceDeclarationTest {

  @Test
  void providerIsFoundThroughServiceLoader() {
    Module self = getClass().getModule();
    // Surefire patches the tests into the module; this module only provides, it does not use.
    self.addUses(FrontendProvider.class);
    List<String> names = ServiceLoader.load(FrontendProvider.class).stream()
        .filter(p -> p.type().getModule().equals(self))
        .map(p -> p.get().name())
        .toList();
    assertEquals(List.of("nbd"), names);
  }

  @Test
  void implementationPackageIsNotExported() {
    Module self = NbdFrontendProvider.class.getModule();
    if (self.isNamed()) {
      assertFalse(self.getDescriptor().exports().stream().anyMatch(e -> e.source().equals("io.pcache.frontend.nbd")),
          "the implementation package must not be exported");
      assertEquals(List.of("io.pcache.frontend.nbd.NbdFrontendProvider"), self.getDescriptor().provides().stream()
          .filter(p -> p.service().equals(FrontendProvider.class.getName())).findFirst().orElseThrow().providers());
    }
  }
}
