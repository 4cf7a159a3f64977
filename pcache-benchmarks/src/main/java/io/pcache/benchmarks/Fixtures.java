package io.pcache.benchmarks;

import io.pcache.api.gc.CacheUsage;
import io.pcache.api.gc.GcPolicy;
import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.media.file.FileMediaProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** Shared set-up: a tmpfs media file (emulated persistent memory) and dm-pcache's GC rule. */
final class Fixtures {

  private Fixtures() {}

  /** A fresh media file of {@code size} bytes in /dev/shm, deleted on close of the JVM. */
  static CacheMedia tmpfsMedia(String tag, long size) throws IOException {
    Path file = Path.of("/dev/shm", "pcache-bench-" + tag + "-" + ProcessHandle.current().pid() + ".img");
    Files.deleteIfExists(file);
    file.toFile().deleteOnExit();
    CacheMedia media = new FileMediaProvider().open(file.toString(), MediaOptions.create(size));
    // Touch every page once, so that measurements see a warm mapping, not tmpfs page allocation
    // (about 1 GB/s on first touch).
    media.mapping().fill((byte) 0);
    return media;
  }

  static void delete(CacheMedia media) throws IOException {
    String name = media.name();
    media.close();
    Files.deleteIfExists(Path.of(name.substring(name.indexOf(':') + 1)));
  }

  /** dm-pcache's threshold rule at {@code percent}. */
  static GcPolicy threshold(int percent) {
    return new GcPolicy() {
      @Override
      public int segmentsToReclaim(CacheUsage u) {
        int threshold = u.totalSegments() * percent / 100;
        return u.usedSegments() >= threshold || u.waitingWrites() > 0 ? Math.max(1, u.usedSegments() - threshold + 1) : 0;
      }

      @Override
      public Map<String, String> parameters() {
        return Map.of();
      }
    };
  }
}
