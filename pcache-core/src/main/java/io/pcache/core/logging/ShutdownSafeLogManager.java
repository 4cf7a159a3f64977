package io.pcache.core.logging;

import java.util.logging.LogManager;

/**
 * The JDK's {@link LogManager} resets (closes) every handler from its own shutdown hook, which runs
 * concurrently with pcache's: the last lines of a clean shutdown ("closing ksets", "stopped") were
 * lost. This manager ignores that reset; the console handler flushes each record as it is
 * published, so nothing is lost at exit either. Installed by the launcher through
 * {@code java.util.logging.manager} before any logger exists.
 */
public final class ShutdownSafeLogManager extends LogManager {

  public ShutdownSafeLogManager() {
    super();
  }

  @Override
  public void reset() {
    // Deliberately nothing: see the class comment.
  }
}
