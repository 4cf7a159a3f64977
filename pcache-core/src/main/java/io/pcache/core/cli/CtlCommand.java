package io.pcache.core.cli;

import io.pcache.api.Config;
import io.pcache.core.config.ConfigException;
import io.pcache.core.config.Suggestions;
import io.pcache.core.control.ControlClient;
import io.pcache.core.control.ControlProtocol;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code pcache ctl show | set KEY VALUE | writeback pause|resume | flush}: tunes a running pcache
 * through its control socket, without restarting it. See {@link io.pcache.core.control.Tunables}
 * for the keys. A bad key or value is refused by the running pcache with one line naming both,
 * and nothing changes (exit status 2).
 */
public final class CtlCommand implements Command {

  private static final List<String> ACTIONS = List.of("show", "set", "writeback", "flush");

  private final Output output;
  private final Config config;

  @Inject
  public CtlCommand(Output output, Config config) {
    this.output = output;
    this.config = config;
  }

  @Override
  public int run(CommandLine line) throws Exception {
    List<String> args = line.arguments();
    if (args.isEmpty()) {
      throw new ConfigException("ctl needs an action: " + String.join(", ", ACTIONS) + " (see pcache help ctl)");
    }
    String action = args.get(0);
    if (!ACTIONS.contains(action)) {
      throw new ConfigException("unknown ctl action '" + action + "'" + Suggestions.didYouMean(action, ACTIONS)
          + "; actions: show, set KEY VALUE, writeback pause|resume, flush");
    }
    String request = String.join(" ", args);
    try {
      ControlProtocol.parse(request); // the same checks the server makes, before connecting
    } catch (IllegalArgumentException e) {
      throw new ConfigException("ctl: " + e.getMessage());
    }
    Live live = Live.find(config, false);
    if (live.client().isEmpty()) {
      throw new IllegalStateException("ctl needs a running pcache, and " + live.why()
          + " (start 'pcache run', or point --control.socket at its socket)");
    }
    try (ControlClient client = live.client().get()) {
      ControlClient.Reply r = client.call(request);
      if (!r.ok()) {
        output.err().println("pcache: " + r.message());
        return r.status() == ControlClient.Status.INVALID ? 2 : 1;
      }
      if (action.equals("show")) {
        show(r.lines());
      } else {
        r.lines().forEach(output.out()::println);
      }
      return 0;
    }
  }

  private void show(List<String> lines) {
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"KEY", "VALUE", "RANGE", "NOTE"});
    for (String l : lines) {
      if (l.startsWith("tunable ")) {
        rows.add(l.substring(8).split("\t", 4));
      }
    }
    int[] width = new int[3];
    for (String[] r : rows) {
      for (int i = 0; i < 3; i++) {
        width[i] = Math.max(width[i], r[i].length());
      }
    }
    for (String[] r : rows) {
      output.out().printf("%-" + width[0] + "s  %-" + width[1] + "s  %-" + width[2] + "s  %s%n", r[0], r[1], r[2],
          r.length > 3 ? r[3] : "");
    }
    lines.stream().filter(l -> l.startsWith("writeback ")).forEach(output.out()::println);
  }
}
