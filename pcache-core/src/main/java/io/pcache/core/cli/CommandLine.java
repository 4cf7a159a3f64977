package io.pcache.core.cli;

import io.pcache.core.config.ConfigException;
import io.pcache.core.config.ConfigSchema;
import io.pcache.core.config.CoreKeys;
import io.pcache.core.config.Suggestions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The parsed command line: {@code pcache [options] COMMAND [options]}. Options may stand before or
 * after the command.
 *
 * <ul>
 *   <li>{@code --KEY VALUE} or {@code --KEY=VALUE} sets any configuration key ({@code --cache.size 2G});
 *   <li>short forms: {@code --cache} ({@code cache.device}), {@code --backing} ({@code
 *       backing.device}), {@code --data-dir} ({@code data.dir}), {@code --gc-policy} ({@code
 *       cache.gc-policy}), {@code --recover-log} ({@code cache.recover-log}), {@code --backing-changed}
 *       ({@code backing.changed}), {@code --frontend}, {@code --listen} (the front-end's listen address,
 *       when the NBD front-end is installed), and the switch {@code --data-crc};
 *   <li>{@code --config FILE}; switches {@code --force}, {@code --json}, {@code --repair}; {@code -h}/{@code --help},
 *       {@code -V}/{@code --version}.
 * </ul>
 *
 * @param command the subcommand, empty when none was given
 * @param settings configuration keys set on the command line
 * @param configFile the {@code --config} file
 * @param switches the switches given, without dashes ({@code force}, {@code json})
 * @param arguments words after the command that are not options
 */
public record CommandLine(Optional<String> command, Map<String, String> settings, Optional<Path> configFile,
    Set<String> switches, List<String> arguments, boolean help, boolean version) {

  /** Switches every command accepts; commands check which of them they use. */
  static final Set<String> SWITCHES = Set.of("force", "json", "repair");

  /** Short forms of configuration keys. */
  static final Map<String, String> SHORT = Map.of(
      "cache", CoreKeys.CACHE_DEVICE,
      "backing", CoreKeys.BACKING_DEVICE,
      "data-dir", CoreKeys.DATA_DIR,
      "gc-policy", CoreKeys.CACHE_GC_POLICY,
      "recover-log", CoreKeys.CACHE_RECOVER_LOG,
      "backing-changed", CoreKeys.BACKING_CHANGED,
      "listen", "nbd.listen");

  /** Whether {@code args} ask for help or the version only: answered before plugins are loaded. */
  static boolean asksHelpOrVersion(String[] args) {
    for (String a : args) {
      if (a.equals("-h") || a.equals("--help") || a.equals("-V") || a.equals("--version")) {
        return true;
      }
    }
    return args.length == 0 || args[0].equals("help");
  }

  /**
   * Parses {@code args} against the configuration keys in {@code schema}.
   *
   * @throws ConfigException for an unknown option (with the closest valid one), a missing value,
   *     or a second command word
   */
  public static CommandLine parse(String[] args, ConfigSchema schema) {
    String command = null;
    Map<String, String> settings = new LinkedHashMap<>();
    Path configFile = null;
    Set<String> switches = new LinkedHashSet<>();
    List<String> arguments = new ArrayList<>();
    boolean help = false;
    boolean version = false;
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("-h") || arg.equals("--help")) {
        help = true;
        continue;
      }
      if (arg.equals("-V") || arg.equals("--version")) {
        version = true;
        continue;
      }
      if (!arg.startsWith("--") || arg.equals("--")) {
        // A negative number is a value (pcache ctl set gc_percent -1 is refused by the range check).
        if (arg.startsWith("-") && !arg.equals("-") && !arg.equals("--") && !arg.matches("-\\d.*")) {
          throw new ConfigException("unknown option '" + arg + "'; options start with -- (see pcache --help)");
        }
        if (command == null) {
          command = arg;
        } else {
          arguments.add(arg);
        }
        continue;
      }
      String name = arg.substring(2);
      String inline = null;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        inline = name.substring(eq + 1);
        name = name.substring(0, eq);
      }
      if (SWITCHES.contains(name) || name.equals("data-crc")) {
        if (inline != null && !inline.equals("true")) {
          throw new ConfigException("option --" + name + " takes no value (got '" + inline + "')");
        }
        if (name.equals("data-crc")) {
          settings.put(CoreKeys.CACHE_DATA_CRC, "true");
        } else {
          switches.add(name);
        }
        continue;
      }
      String key = name.equals("config") ? "config" : SHORT.getOrDefault(name, name);
      if (!key.equals("config") && schema.key(key).isEmpty()) {
        List<String> known = new ArrayList<>(schema.names());
        known.addAll(SHORT.keySet());
        known.addAll(SWITCHES);
        known.add("config");
        known.add("data-crc");
        throw new ConfigException("unknown option '--" + name + "'"
            + Suggestions.closest(name, known).map(c -> "; did you mean '--" + c + "'?").orElse("")
            + " (see pcache --help and pcache config)");
      }
      String value = inline;
      if (value == null) {
        if (i + 1 >= args.length) {
          throw new ConfigException("option --" + name + " needs a value");
        }
        value = args[++i];
      }
      if (key.equals("config")) {
        configFile = Path.of(value);
      } else {
        settings.put(key, value);
      }
    }
    return new CommandLine(Optional.ofNullable(command), settings, Optional.ofNullable(configFile),
        switches, arguments, help, version);
  }
}
