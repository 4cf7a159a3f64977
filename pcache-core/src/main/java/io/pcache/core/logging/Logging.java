package io.pcache.core.logging;

import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;
import org.slf4j.helpers.NOPLoggerFactory;

/**
 * Where log lines go. pcache-core logs through the SLF4J API; the distribution binds it to
 * logback-classic, configured by {@code conf/logback.xml} (the launcher passes {@code
 * -Dlogback.configurationFile}). Plugins log through {@link System.Logger} (they depend on the API
 * only), which {@code slf4j-jdk-platform-logging} in {@code lib/} routes to SLF4J; libraries that
 * use {@code java.util.logging} reach it through the bridge {@link #install()} puts in place. So
 * every line, whoever writes it, has one format and one destination.
 *
 * <p>Lines written during a SIGTERM shutdown are not lost: logback's console and file appenders
 * write each event through before returning, logback registers no shutdown hook of its own unless
 * its configuration asks for one, and {@link ShutdownSafeLogManager} keeps the JDK from closing the
 * bridge's handler in the middle of pcache's shutdown hook.
 */
public final class Logging {

  private Logging() {}

  /**
   * Routes {@code java.util.logging} to SLF4J, when SLF4J has a back-end (without one the JDK's
   * console handler is kept, so nothing is lost). Call once, early.
   */
  public static void install() {
    if (LoggerFactory.getILoggerFactory() instanceof NOPLoggerFactory) {
      return;
    }
    if (!SLF4JBridgeHandler.isInstalled()) {
      SLF4JBridgeHandler.removeHandlersForRootLogger();
      SLF4JBridgeHandler.install();
    }
  }
}
