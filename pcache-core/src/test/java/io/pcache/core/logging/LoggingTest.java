package io.pcache.core.logging;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.slf4j.bridge.SLF4JBridgeHandler;

/** java.util.logging lines reach the SLF4J back-end (logback here, as in the distribution) once installed. */
class LoggingTest {

  @Test
  void julLinesGoThroughSlf4j() {
    Logging.install();
    Logging.install(); // idempotent
    assertTrue(SLF4JBridgeHandler.isInstalled());
    PrintStream saved = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      java.util.logging.Logger.getLogger("io.pcache.test.jul").warning("a JUL warning on block:/dev/sdz at offset 4096 length 512");
      org.slf4j.LoggerFactory.getLogger("io.pcache.test.slf4j").info("an SLF4J line");
    } finally {
      System.setErr(saved);
    }
    String text = captured.toString(StandardCharsets.UTF_8);
    // The test configuration (logback-test.xml) logs "HH:mm:ss.SSS LEVEL logger: message" on the console.
    assertTrue(text.matches("(?s).*\\d\\d:\\d\\d:\\d\\d\\.\\d{3} WARN io\\.pcache\\.test\\.jul: a JUL warning on block:/dev/sdz.*"), text);
    assertTrue(text.contains("INFO io.pcache.test.slf4j: an SLF4J line"), text);
  }
}
