package io.pcache.core.logging;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Collects what a logger (and its children) logs during each test, at INFO and above
 * ({@code @RegisterExtension final LogCapture log = new LogCapture("io.pcache.core.engine")}).
 * {@link #records} is the live list; synchronise on it to read it while the engine's threads log.
 */
public final class LogCapture implements BeforeEachCallback, AfterEachCallback {

  /** Every record logged since the test began. */
  public final List<LogRecord> records = new ArrayList<>();
  private final Logger logger;
  private final Handler handler = new Handler() {
    @Override
    public void publish(LogRecord record) {
      synchronized (records) {
        records.add(record);
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };
  private Level savedLevel;

  public LogCapture(String loggerName) {
    this.logger = Logger.getLogger(loggerName);
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    savedLevel = logger.getLevel();
    logger.setLevel(Level.INFO);
    logger.addHandler(handler);
  }

  @Override
  public void afterEach(ExtensionContext context) {
    logger.removeHandler(handler);
    logger.setLevel(savedLevel);
  }
}
