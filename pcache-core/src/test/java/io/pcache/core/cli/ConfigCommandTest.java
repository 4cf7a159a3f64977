package io.pcache.core.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ConfigCommandTest {

  @Test
  void secretsAreRecognised() {
    assertTrue(ConfigCommand.secret("nbd.tls.password"));
    assertTrue(ConfigCommand.secret("metrics.auth-token"));
    assertFalse(ConfigCommand.secret("nbd.tls.keystore"));
    assertFalse(ConfigCommand.secret("cache.size"));
  }
}
