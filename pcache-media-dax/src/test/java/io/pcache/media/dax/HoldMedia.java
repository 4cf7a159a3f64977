package io.pcache.media.dax;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A second pcache process for the lock tests, started by {@link ChildProcess}: opens the media at
 * {@code args[0]} ({@code args[1]} is {@code read-write} or {@code read-only}; {@code args[2]}, if
 * given, a sysfs root) with the real provider, prints {@code OPEN} or {@code REFUSED <message>},
 * and holds the media until its standard input is closed.
 */
public final class HoldMedia {

  private HoldMedia() {}

  public static void main(String[] args) throws IOException {
    MediaOptions options = args[1].equals("read-only") ? MediaOptions.inspect() : MediaOptions.existing();
    DaxMediaProvider provider = args.length > 2
        ? new DaxMediaProvider(Mounts::current, new Sysfs(Path.of(args[2])))
        : new DaxMediaProvider();
    CacheMedia media;
    try {
      media = provider.open(args[0], options);
    } catch (IOException e) {
      System.out.println("REFUSED " + e.getMessage());
      return;
    }
    try (media) {
      System.out.println("OPEN " + media.persistenceDomain());
      System.out.flush();
      while (System.in.read() >= 0) {
        // hold until the parent closes our stdin (or dies)
      }
    }
  }
}
