package io.pcache.core.cli;

import com.google.inject.AbstractModule;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Stage;
import io.pcache.api.Provider;
import io.pcache.core.config.ConfigException;
import io.pcache.core.engine.CacheRefusedException;
import io.pcache.core.config.ConfigSchema;
import io.pcache.core.config.CoreKeys;
import io.pcache.core.config.LayeredConfig;
import io.pcache.core.config.Suggestions;
import io.pcache.core.inject.PcacheModule;
import io.pcache.core.plugin.PluginException;
import io.pcache.core.plugin.PluginRegistry;
import io.pcache.core.plugin.ProviderEntry;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * {@code bin/pcache}: the launcher. Loads the providers from {@code lib/} and {@code plugins/},
 * reads and checks the configuration, builds the object graph with Guice, and runs a subcommand.
 *
 * <p>Exit status: 0 success, 1 failure, 2 usage or configuration error. Errors are one line on
 * standard error, starting with {@code pcache:}.
 */
public final class Main {

  static {
    // Before any logger exists (GUICE_LOGGER below creates the first one).
    if (System.getProperty("java.util.logging.manager") == null) {
      System.setProperty("java.util.logging.manager", "io.pcache.core.logging.ShutdownSafeLogManager");
    }
  }

  /** The subcommands, in the order {@code --help} lists them. */
  private static final Map<String, Class<? extends Command>> COMMANDS = new LinkedHashMap<>();

  static {
    COMMANDS.put("run", RunCommand.class);
    COMMANDS.put("format", FormatCommand.class);
    COMMANDS.put("status", StatusCommand.class);
    COMMANDS.put("check", CheckCommand.class);
    COMMANDS.put("drain", DrainCommand.class);
    COMMANDS.put("ctl", CtlCommand.class);
    COMMANDS.put("plugins", PluginsCommand.class);
    COMMANDS.put("config", ConfigCommand.class);
  }

  private final Path home;
  private final Map<String, String> environment;
  private final Path cwd;
  private final Output output;

  Main(Path home, Map<String, String> environment, Path cwd, Output output) {
    this.home = home;
    this.environment = environment;
    this.cwd = cwd;
    this.output = output;
  }

  public static void main(String[] args) {
    configureGuice();
    io.pcache.core.logging.Logging.install();
    Main main = new Main(home(), System.getenv(), Path.of("").toAbsolutePath(), new Output(System.out, System.err));
    int status = main.execute(args);
    System.out.flush();
    if (status != 0) {
      System.exit(status);
    }
  }

  /** Runs the command line and returns the exit status; never throws. */
  int execute(String[] args) {
    PrintStream err = output.err();
    try {
      if (CommandLine.asksHelpOrVersion(args)) {
        return helpOrVersion(args);
      }
      PluginRegistry registry = PluginRegistry.load(home.resolve("plugins"));
      ConfigSchema schema = schema(registry);
      CommandLine line = CommandLine.parse(args, schema);
      String name = line.command().orElseThrow(() -> new ConfigException("no command given; see pcache --help"));
      Class<? extends Command> type = COMMANDS.get(name);
      if (type == null) {
        throw new ConfigException("unknown command '" + name + "'" + Suggestions.didYouMean(name, COMMANDS.keySet())
            + "; commands: " + String.join(", ", COMMANDS.keySet()));
      }
      LayeredConfig config = LayeredConfig.load(schema, home, line.configFile(), environment, line.settings(), cwd);
      Injector injector = Guice.createInjector(Stage.PRODUCTION, new PcacheModule(registry, config), new AbstractModule() {
        @Override
        protected void configure() {
          bind(Output.class).toInstance(output);
          bind(CommandLine.class).toInstance(line);
        }
      });
      Command command;
      try {
        command = injector.getInstance(type);
      } catch (com.google.inject.ProvisionException | com.google.inject.ConfigurationException e) {
        Throwable cause = e.getCause() != null ? e.getCause() : e;
        throw new IllegalStateException("cannot assemble '" + name + "': " + cause, e);
      }
      return command.run(line);
    } catch (ConfigException e) {
      err.println("pcache: " + e.getMessage());
      return 2;
    } catch (PluginException e) {
      err.println("pcache: " + e.getMessage());
      return 2;
    } catch (CacheRefusedException e) {
      err.println("pcache: " + e.getMessage());
      return 3;
    } catch (Exception e) {
      err.println("pcache: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
      if (environment.containsKey("PCACHE_DEBUG")) {
        e.printStackTrace(err);
      }
      return 1;
    }
  }

  /**
   * Guice on the module path: its generated "fast classes" land in an unnamed module that cannot
   * see our non-exported packages (IllegalAccessError in a real launch, never under Surefire), so
   * bytecode generation is turned off and plain reflection (through {@code opens ... to
   * com.google.guice}) is used. Guice's bundled ASM cannot read Java 25 class files to find line
   * numbers for its messages; that warning is silenced. Must run before any Guice class loads.
   */
  static void configureGuice() {
    System.setProperty("guice_bytecode_gen_option", "DISABLED");
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT %4$s %3$s: %5$s%6$s%n");
    }
    System.setProperty("guice_include_stack_traces", "OFF");
    GUICE_LOGGER.setLevel(java.util.logging.Level.OFF);
  }

  /** Held so that the level set above is not lost when the logger is garbage collected. */
  private static final java.util.logging.Logger GUICE_LOGGER =
      java.util.logging.Logger.getLogger("com.google.inject.internal.util");

  /** The schema: the engine's keys and every provider's. */
  static ConfigSchema schema(PluginRegistry registry) {
    ConfigSchema schema = new ConfigSchema().add("pcache-core", CoreKeys.all());
    for (ProviderEntry e : registry.entries()) {
      Provider p = e.provider();
      schema.add(e.kind().label() + " " + e.name() + " (" + e.module() + ")", p.configKeys());
    }
    return schema;
  }

  private int helpOrVersion(String[] args) {
    for (String a : args) {
      if (a.equals("-V") || a.equals("--version")) {
        output.out().println("pcache " + version() + " (Java " + Runtime.version() + ", " + System.getProperty("os.name")
            + " " + System.getProperty("os.arch") + ")");
        return 0;
      }
    }
    String command = null;
    for (String a : args) {
      if (!a.startsWith("-") && !a.equals("help")) {
        command = a;
        break;
      }
    }
    output.out().print(HelpText.forCommand(command));
    return args.length == 0 ? 2 : 0;
  }

  /** The version from the build. */
  static String version() {
    try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
      Properties p = new Properties();
      if (in != null) {
        p.load(in);
      }
      return p.getProperty("version", "unknown");
    } catch (IOException e) {
      return "unknown";
    }
  }

  /** The installation home: {@code -Dpcache.home}, else {@code PCACHE_HOME}, else the parent of {@code lib/}. */
  static Path home() {
    String prop = System.getProperty("pcache.home");
    if (prop != null && !prop.isBlank()) {
      return Path.of(prop).toAbsolutePath().normalize();
    }
    String env = System.getenv("PCACHE_HOME");
    if (env != null && !env.isBlank()) {
      return Path.of(env).toAbsolutePath().normalize();
    }
    try {
      Path jar = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      if (Files.isRegularFile(jar) && jar.getParent() != null && jar.getParent().getParent() != null) {
        return jar.getParent().getParent();
      }
    } catch (URISyntaxException | RuntimeException e) {
      // fall through to the current directory
    }
    return Path.of("").toAbsolutePath();
  }
}
