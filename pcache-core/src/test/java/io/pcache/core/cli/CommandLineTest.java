package io.pcache.core.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.core.config.ConfigException;
import io.pcache.core.config.ConfigSchema;
import io.pcache.core.config.CoreKeys;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CommandLineTest {

  private final ConfigSchema schema = new ConfigSchema().add("pcache-core", CoreKeys.all());

  private CommandLine parse(String... args) {
    return CommandLine.parse(args, schema);
  }

  @Test
  void optionsBeforeAndAfterTheCommand() {
    CommandLine line = parse("--cache", "file:/c", "format", "--force", "--data-crc", "--backing=block:/dev/sdb",
        "--cache.size", "2G", "--config", "/etc/pcache.properties");
    assertEquals(Optional.of("format"), line.command());
    assertEquals(Map.of("cache.device", "file:/c", "backing.device", "block:/dev/sdb", "cache.size", "2G",
        "cache.data-crc", "true"), line.settings());
    assertEquals(Set.of("force"), line.switches());
    assertEquals(Optional.of(Path.of("/etc/pcache.properties")), line.configFile());
    assertFalse(line.help());
  }

  @Test
  void argumentsAfterTheCommand() {
    CommandLine line = parse("config", "describe");
    assertEquals(List.of("describe"), line.arguments());
  }

  @Test
  void unknownOptionSuggestsTheClosest() {
    ConfigException e = assertThrows(ConfigException.class, () -> parse("run", "--cache.sise", "1G"));
    assertEquals("unknown option '--cache.sise'; did you mean '--cache.size'? (see pcache --help and pcache config)",
        e.getMessage());
    e = assertThrows(ConfigException.class, () -> parse("format", "--forse"));
    assertTrue(e.getMessage().contains("did you mean '--force'?"), e.getMessage());
  }

  @Test
  void missingValue() {
    ConfigException e = assertThrows(ConfigException.class, () -> parse("run", "--cache"));
    assertEquals("option --cache needs a value", e.getMessage());
  }

  @Test
  void switchesTakeNoValue() {
    assertThrows(ConfigException.class, () -> parse("format", "--force=no"));
  }

  @Test
  void singleDashOptionsAreRejected() {
    ConfigException e = assertThrows(ConfigException.class, () -> parse("run", "-x"));
    assertTrue(e.getMessage().contains("'-x'"), e.getMessage());
  }

  @Test
  void helpAndVersionAreSeenBeforeAnythingIsLoaded() {
    assertTrue(CommandLine.asksHelpOrVersion(new String[] {"run", "--help"}));
    assertTrue(CommandLine.asksHelpOrVersion(new String[] {"-V"}));
    assertTrue(CommandLine.asksHelpOrVersion(new String[] {}));
    assertTrue(CommandLine.asksHelpOrVersion(new String[] {"help", "run"}));
    assertFalse(CommandLine.asksHelpOrVersion(new String[] {"plugins"}));
  }
}
