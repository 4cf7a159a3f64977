package io.pcache.frontend.nbd;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs the real NBD clients (libnbd's nbdinfo, nbdcopy and nbdsh; qemu-img and qemu-io; fio) for
 * tests, and skips a test with a clear message when one is not installed.
 *
 * <p>{@code /usr/bin} comes first on the PATH of every child: nbdsh runs {@code python3 -m nbd},
 * and a python3 from pyenv or a virtualenv earlier on the PATH lacks the distribution's {@code nbd}
 * module.
 */
final class Tools {

  /** Where each tool comes from, for the skip message. */
  private static final Map<String, String> PACKAGES = Map.of(
      "nbdinfo", "libnbd-bin", "nbdcopy", "libnbd-bin", "nbdsh", "python3-libnbd", "qemu-img", "qemu-utils",
      "qemu-io", "qemu-utils", "fio", "fio");

  private static final Map<String, Boolean> FOUND = new ConcurrentHashMap<>();

  private Tools() {}

  /** The output and exit code of a finished command. */
  record Result(int exit, String output) {
    Result ok() {
      if (exit != 0) {
        throw new AssertionError("exit code " + exit + ":\n" + output);
      }
      return this;
    }
  }

  static String path() {
    return "/usr/bin:/bin:/usr/sbin:/sbin:" + System.getenv().getOrDefault("PATH", "");
  }

  /** Skips the calling test unless {@code tool} is installed (and works, for nbdsh). */
  static void require(String tool) {
    boolean found = FOUND.computeIfAbsent(tool, Tools::probe);
    assumeTrue(found, () -> tool + " is not installed: skipping (install it with: apt-get install -y "
        + PACKAGES.getOrDefault(tool, tool) + ")");
  }

  private static boolean probe(String tool) {
    boolean onPath = false;
    for (String d : path().split(":")) {
      if (!d.isEmpty() && Files.isExecutable(Path.of(d, tool))) {
        onPath = true;
        break;
      }
    }
    if (!onPath) {
      return false;
    }
    if (tool.equals("nbdsh")) {
      try {
        return run(Duration.ofSeconds(30), "nbdsh", "--version").exit() == 0;
      } catch (IOException e) {
        return false;
      }
    }
    return true;
  }

  /** Runs a command to completion (or kills it at the timeout) and returns its merged output. */
  static Result run(Duration timeout, String... command) throws IOException {
    return run(timeout, List.of(command));
  }

  static Result run(Duration timeout, List<String> command) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true)
        .directory(Path.of(System.getProperty("java.io.tmpdir")).toFile()); // tools may drop files in their cwd
    pb.environment().put("PATH", path());
    pb.environment().put("LIBNBD_DEBUG", "0");
    Process p = pb.start();
    AtomicReference<String> out = new AtomicReference<>("");
    Thread reader = Thread.ofVirtual().name("tool-output").start(() -> {
      try {
        out.set(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
      } catch (IOException e) {
        out.set("(output unreadable: " + e + ")");
      }
    });
    try {
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
        reader.join(5_000);
        throw new AssertionError(String.join(" ", command) + " did not finish within " + timeout + ":\n" + out.get());
      }
      reader.join(10_000);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    return new Result(p.exitValue(), out.get());
  }
}
