package io.pcache.core.cli;

import io.pcache.api.ConfigKey;
import io.pcache.core.config.LayeredConfig;
import jakarta.inject.Inject;
import java.util.Objects;

/**
 * {@code pcache config}: the effective configuration, one key per line, with where each value came
 * from ({@code default}, a file, {@code env PCACHE_X}, {@code flag --x}). With {@code --help}-style
 * detail ({@code pcache config --describe}) each key's documentation follows it.
 */
public final class ConfigCommand implements Command {

  private final LayeredConfig config;
  private final Output output;

  @Inject
  public ConfigCommand(LayeredConfig config, Output output) {
    this.config = config;
    this.output = output;
  }

  @Override
  public int run(CommandLine line) {
    boolean describe = line.arguments().contains("describe");
    int keyW = config.schema().names().stream().mapToInt(String::length).max().orElse(10);
    int valW = Math.min(48, config.schema().names().stream()
        .mapToInt(k -> Objects.toString(config.get(k), "").length()).max().orElse(10));
    String owner = null;
    for (ConfigKey key : config.schema().keys()) {
      String keyOwner = config.schema().owner(key.name());
      if (!keyOwner.equals(owner)) {
        output.out().println((owner == null ? "" : System.lineSeparator()) + "# " + keyOwner);
        owner = keyOwner;
      }
      String value = Objects.toString(config.get(key.name()), "");
      if (secret(key.name()) && !value.isEmpty()) {
        value = "********";
      }
      output.out().printf("%-" + keyW + "s = %-" + valW + "s  [%s]%n", key.name(), value, config.sourceOf(key.name()));
      if (describe) {
        output.out().println("    " + key.description() + " (" + key.type().name().toLowerCase(java.util.Locale.ROOT)
            + (key.choices().isEmpty() ? "" : ": " + String.join("|", key.choices()))
            + ", env " + key.environmentName() + ")");
      }
    }
    return 0;
  }

  /** Keys whose values are never printed: passwords, secrets, tokens. */
  static boolean secret(String key) {
    String last = key.substring(key.lastIndexOf('.') + 1);
    return last.contains("password") || last.contains("secret") || last.contains("token");
  }
}
