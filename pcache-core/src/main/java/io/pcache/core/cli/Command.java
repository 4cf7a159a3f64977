package io.pcache.core.cli;

/** A subcommand of {@code bin/pcache}. Created by the injector with what it needs. */
interface Command {

  /**
   * Runs the command.
   *
   * @return the process exit status: 0 success, 1 failure, 2 usage or configuration error
   */
  int run(CommandLine line) throws Exception;
}
