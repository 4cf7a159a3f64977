package io.pcache.core.cli;

import io.pcache.api.frontend.FrontendProvider;
import io.pcache.api.media.MediaProvider;
import io.pcache.core.plugin.PluginRegistry;
import io.pcache.core.plugin.ProviderEntry;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Map;

/**
 * {@code pcache plugins}: every provider found, with its kind, name, module and where it came from
 * ({@code lib/} or {@code plugins/<jar>}), then what each can do on this machine.
 */
public final class PluginsCommand implements Command {

  private final PluginRegistry registry;
  private final Output output;

  @Inject
  public PluginsCommand(PluginRegistry registry, Output output) {
    this.registry = registry;
    this.output = output;
  }

  @Override
  public int run(CommandLine line) {
    List<ProviderEntry> entries = registry.entries();
    int kindW = 9;
    int nameW = Math.max(4, entries.stream().mapToInt(e -> e.name().length()).max().orElse(4));
    int modW = Math.max(6, entries.stream().mapToInt(e -> e.module().length()).max().orElse(6));
    int origW = Math.max(6, entries.stream().mapToInt(e -> e.origin().length()).max().orElse(6));
    String fmt = "%-" + kindW + "s  %-" + nameW + "s  %-" + modW + "s  %-" + origW + "s  %s%n";
    output.out().printf(fmt, "KIND", "NAME", "MODULE", "ORIGIN", "DESCRIPTION");
    for (ProviderEntry e : entries) {
      String description = e.provider().description();
      if (!e.provider().aliases().isEmpty()) {
        description += " (also: " + String.join(", ", e.provider().aliases()) + ")";
      }
      output.out().printf(fmt, e.kind().label(), e.name(), e.module(), e.origin(), description);
    }
    for (ProviderEntry e : entries) {
      if (e.provider() instanceof MediaProvider media) {
        for (String capability : media.capabilities()) {
          output.out().println("  " + e.kind().label() + " " + e.name() + ": " + capability);
        }
      }
      if (e.provider() instanceof FrontendProvider frontend) {
        frontend.unavailableReason().ifPresent(reason ->
            output.out().println("  " + e.kind().label() + " " + e.name() + ": unavailable here: " + reason));
      }
    }
    Map<String, List<ProviderEntry>> conflicts = registry.conflicts();
    conflicts.forEach((name, list) -> output.err().println("pcache: conflict: " + name + " is provided by "
        + String.join(", ", list.stream().map(e -> e.module() + " (" + e.origin() + ")").toList())
        + "; remove one of them from plugins/"));
    return conflicts.isEmpty() ? 0 : 1;
  }
}
