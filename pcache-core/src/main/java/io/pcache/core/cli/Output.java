package io.pcache.core.cli;

import java.io.PrintStream;

/**
 * Where commands write: standard output for results, standard error for diagnostics. Injected, so
 * tests capture both.
 */
public record Output(PrintStream out, PrintStream err) {}
