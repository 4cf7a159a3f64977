package io.pcache.media.dax;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A second JVM running {@link HoldMedia}: another pcache process, for the tests of the {@code
 * fcntl} (fsdax) and {@code flock} (devdax) locks. (A copy of the file media's test helper.) Started on the same module path as the tests (with the test classes patched in),
 * or on the same class path when the tests run on the class path.
 */
final class ChildProcess implements AutoCloseable {

  private final Process process;
  private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
  private final List<String> other = new ArrayList<>();

  private ChildProcess(Process process) {
    this.process = process;
    Thread reader =
        Thread.ofPlatform()
            .name("hold-media-" + process.pid() + "-stdout")
            .daemon()
            .start(this::readLines);
    reader.setUncaughtExceptionHandler((t, e) -> lines.add("READER FAILED " + e));
  }

  /** Starts a child that opens {@code media} and holds it until {@link #close}. */
  static ChildProcess hold(Path media, boolean readOnly) throws IOException {
    return hold(media, readOnly, null);
  }

  /**
   * Starts a child that opens {@code media} with the sysfs tree at {@code sysfsRoot} (the live
   * one when {@code null}) and holds it until {@link #close}.
   */
  static ChildProcess hold(Path media, boolean readOnly, Path sysfsRoot) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(ProcessHandle.current().info().command().orElseThrow());
    command.add("--enable-native-access=ALL-UNNAMED,io.pcache.media.dax");
    String modulePath = System.getProperty("jdk.module.path");
    if (modulePath != null && HoldMedia.class.getModule().isNamed()) {
      command.addAll(
          List.of(
              "--module-path", modulePath,
              "--patch-module", "io.pcache.media.dax=" + testClasses(),
              "-m", "io.pcache.media.dax/" + HoldMedia.class.getName()));
    } else {
      command.addAll(
          List.of("-cp", System.getProperty("java.class.path"), HoldMedia.class.getName()));
    }
    command.add(media.toString());
    command.add(readOnly ? "read-only" : "read-write");
    if (sysfsRoot != null) {
      command.add(sysfsRoot.toString());
    }
    return new ChildProcess(new ProcessBuilder(command).redirectErrorStream(true).start());
  }

  /**
   * What the child said about its open: {@code OPEN <domain>} or {@code REFUSED <message>}.
   *
   * @throws AssertionError when it said neither within 30 seconds
   */
  String outcome() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      String line = lines.poll(100, TimeUnit.MILLISECONDS);
      if (line != null && (line.startsWith("OPEN") || line.startsWith("REFUSED"))) {
        return line;
      }
      if (line != null) {
        other.add(line);
      } else if (!process.isAlive() && lines.isEmpty()) {
        break;
      }
    }
    throw new AssertionError(
        "child " + process.pid() + " did not report its open; it printed " + other
            + (process.isAlive() ? "" : " and exited with " + process.exitValue()));
  }

  /** Closes the child's standard input, which makes it close the media and exit. */
  @Override
  public void close() throws IOException {
    process.getOutputStream().close();
    try {
      if (!process.waitFor(15, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(15, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  private void readLines() {
    try (BufferedReader reader =
        new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = reader.readLine()) != null; ) {
        lines.add(line);
      }
    } catch (IOException e) {
      lines.add("READER FAILED " + e);
    }
  }

  /** The directory the test classes were loaded from. */
  private static Path testClasses() {
    String resource = HoldMedia.class.getSimpleName() + ".class";
    URL url = HoldMedia.class.getResource(resource);
    if (url == null || !url.getProtocol().equals("file")) {
      throw new AssertionError("cannot locate the test classes: " + resource + " is at " + url);
    }
    try {
      Path file = Path.of(url.toURI());
      int depth = HoldMedia.class.getPackageName().split("\\.").length;
      Path root = file.getParent();
      for (int i = 0; i < depth; i++) {
        root = root.getParent();
      }
      return root;
    } catch (URISyntaxException e) {
      throw new AssertionError("cannot locate the test classes from " + url, e);
    }
  }
}
