package io.pcache.backing.block;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Loop devices for tests: {@code losetup}, which needs root and a kernel with loop support. */
final class LoopDevices {

  private LoopDevices() {}

  /** Why loop devices cannot be used here, or null when they can (checked once). */
  static String unavailableReason() {
    return Check.REASON;
  }

  private static final class Check {
    static final String REASON = check();

    private static String check() {
      if (!System.getProperty("os.name", "").startsWith("Linux")) {
        return "loop devices need Linux";
      }
      if (!"root".equals(System.getProperty("user.name"))) {
        return "loop devices need root (losetup); running as " + System.getProperty("user.name");
      }
      try {
        Path probe = Files.createTempFile("pcache-loop-probe", ".img");
        try {
          Files.write(probe, new byte[1 << 20]);
          String device = attach(probe);
          detach(device);
          return null;
        } finally {
          Files.deleteIfExists(probe);
        }
      } catch (IOException e) {
        return "losetup does not work here: " + e.getMessage();
      }
    }
  }

  /** Attaches {@code file} to a free loop device and returns its path ({@code /dev/loopN}). */
  static String attach(Path file) throws IOException {
    return run(List.of("losetup", "--find", "--show", file.toString())).strip();
  }

  /** Detaches a loop device (lazily, if something still has it open). */
  static void detach(String device) throws IOException {
    run(List.of("losetup", "--detach", device));
  }

  /** Runs a command and returns its output; an exit status other than 0 is an IOException with the output. */
  static String run(List<String> command) throws IOException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IOException(String.join(" ", command) + " did not finish in 30 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
      throw new IOException("interrupted while running " + String.join(" ", command), e);
    }
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (process.exitValue() != 0) {
      throw new IOException(String.join(" ", command) + " exited with " + process.exitValue() + ": " + output.strip());
    }
    return output;
  }
}
