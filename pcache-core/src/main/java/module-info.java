/**
 * The pcache engine, plugin loading, configuration and the launcher.
 *
 * <p>Finds providers of every SPI through {@link java.util.ServiceLoader} in the boot layer
 * ({@code lib/}) and in plugin layers built from {@code plugins/}, and wires them with Guice
 * (injection only). Exports nothing: plugins depend on {@code io.pcache.api} alone.
 */
module io.pcache.core {
  requires io.pcache.api;
  requires com.google.guice;
  requires jakarta.inject;
  requires org.apache.commons.configuration2;
  requires java.logging;
  requires java.management;
  requires jdk.httpserver;
  requires org.slf4j;
  requires jul.to.slf4j;

  uses io.pcache.api.media.MediaProvider;
  uses io.pcache.api.backing.BackingProvider;
  uses io.pcache.api.frontend.FrontendProvider;
  uses io.pcache.api.gc.GcPolicyProvider;

  // Guice creates the launcher's commands and the engine's parts reflectively.
  opens io.pcache.core.cli to com.google.guice;
  opens io.pcache.core.inject to com.google.guice;

  // java.util.logging instantiates the log manager named by java.util.logging.manager.
  exports io.pcache.core.logging to java.logging;
}
