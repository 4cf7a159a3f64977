package io.pcache.core.cli;

/**
 * Commands whose implementation comes with the engine and front-end work. They say so plainly
 * instead of pretending to work.
 */
abstract class NotYetCommand implements Command {

  private final String name;
  private final Output output;

  NotYetCommand(String name, Output output) {
    this.name = name;
    this.output = output;
  }

  @Override
  public int run(CommandLine line) {
    output.err().println("pcache: '" + name + "' is not available in this build yet (it comes with the cache engine"
        + (name.equals("run") ? " and the NBD front-end" : "") + "); see pcache help " + name);
    return 1;
  }

  /** {@code pcache run}. */
  public static final class Run extends NotYetCommand {
    @jakarta.inject.Inject
    public Run(Output output) {
      super("run", output);
    }
  }

  /** {@code pcache format}. */
  public static final class Format extends NotYetCommand {
    @jakarta.inject.Inject
    public Format(Output output) {
      super("format", output);
    }
  }

  /** {@code pcache status}. */
  public static final class Status extends NotYetCommand {
    @jakarta.inject.Inject
    public Status(Output output) {
      super("status", output);
    }
  }

  /** {@code pcache check}. */
  public static final class Check extends NotYetCommand {
    @jakarta.inject.Inject
    public Check(Output output) {
      super("check", output);
    }
  }
}
