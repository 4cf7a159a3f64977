package io.pcache.core.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The launcher end to end inside one JVM: Guice wiring, exit codes, one-line errors. */
class MainTest {

  @TempDir Path home;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @BeforeAll
  static void guice() {
    Main.configureGuice();
  }

  private int run(Map<String, String> env, String... args) {
    Output output = new Output(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Main(home, env, home, output).execute(args);
  }

  private String out() {
    return out.toString(StandardCharsets.UTF_8);
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void version() {
    assertEquals(0, run(Map.of(), "--version"));
    assertTrue(out().startsWith("pcache 0."), out());
  }

  @Test
  void helpListsEveryCommand() {
    assertEquals(0, run(Map.of(), "--help"));
    for (String c : new String[] {"run", "format", "status", "ctl", "check", "drain", "plugins", "config"}) {
      assertTrue(out().contains("\n  " + c + " "), c);
    }
    assertEquals(2, run(Map.of()));
  }

  @Test
  void commandHelp() {
    assertEquals(0, run(Map.of(), "help", "format"));
    assertTrue(out().contains("--force"), out());
  }

  @Test
  void configShowsValuesAndSources() throws Exception {
    Files.createDirectories(home.resolve("conf"));
    Files.writeString(home.resolve("conf/pcache.properties"), "backing.size = 8G\n");
    assertEquals(0, run(Map.of("PCACHE_CACHE_SIZE", "2G"), "config", "--frontend", "ublk"));
    assertTrue(out().matches("(?s).*cache\\.size\\s+= 2G\\s+\\[env PCACHE_CACHE_SIZE].*"), out());
    assertTrue(out().matches("(?s).*backing\\.size\\s+= 8G\\s+\\[" + home.resolve("conf/pcache.properties") + "].*"), out());
    assertTrue(out().matches("(?s).*frontend\\s+= ublk\\s+\\[flag --frontend].*"), out());
  }

  @Test
  void badConfigValueIsOneLineNamingTheKeyWithExitStatus2() {
    assertEquals(2, run(Map.of("PCACHE_CACHE_SIZE", "banana"), "config"));
    assertEquals(1, err().lines().count(), err());
    assertTrue(err().startsWith("pcache: bad value for configuration key 'cache.size' = 'banana'"), err());
  }

  @Test
  void unknownCommand() {
    assertEquals(2, run(Map.of(), "plugin"));
    assertTrue(err().contains("did you mean 'plugins'?"), err());
  }

  @Test
  void pluginsListsAHeader() {
    assertEquals(0, run(Map.of(), "plugins"));
    assertTrue(out().startsWith("KIND"), out());
  }

  @Test
  void runWithoutTheFrontEndSaysWhatIsInstalled() {
    assertEquals(2, run(Map.of(), "run", "--frontend", "nbd"));
    assertTrue(err().contains("no frontend provider called 'nbd' is installed; installed: none"), err());
  }

  @Test
  void brokenPluginDirectoryIsAClearError() throws Exception {
    Files.createDirectories(home.resolve("plugins"));
    Files.writeString(home.resolve("plugins/broken.jar"), "not a jar");
    assertEquals(2, run(Map.of(), "plugins"));
    assertTrue(err().startsWith("pcache: cannot load plugins from " + home.resolve("plugins")), err());
  }
}
