package io.pcache.core.cli;

import java.io.PrintStream;

/**
 * A one-line progress bar on standard error: {@code [##########----------]  50%  1.2 GiB of 2.4 GiB
 * written back}. Redrawn in place on a terminal; one line per 10 % otherwise, so logs stay short.
 */
final class Progress {

  private static final int WIDTH = 30;

  private final PrintStream err;
  private final String what;
  private final boolean terminal;
  private int lastTenth = -1;

  Progress(PrintStream err, String what) {
    this.err = err;
    this.what = what;
    this.terminal = System.console() != null && System.console().isTerminal();
  }

  void update(long done, long total) {
    int percent = total <= 0 ? 100 : (int) Math.min(100, done * 100 / total);
    int filled = percent * WIDTH / 100;
    String line = "[" + "#".repeat(filled) + "-".repeat(WIDTH - filled) + "] " + String.format("%3d%%", percent) + "  "
        + bytes(done) + " of " + bytes(total) + " " + what;
    if (terminal) {
      err.print("\r" + line);
      err.flush();
    } else if (percent / 10 != lastTenth) {
      lastTenth = percent / 10;
      err.println(line);
    }
  }

  void done() {
    if (terminal) {
      err.println();
    }
  }

  static String bytes(long n) {
    if (n < 1024) {
      return n + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = n;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format("%.1f %s", v, units[u]);
  }
}
