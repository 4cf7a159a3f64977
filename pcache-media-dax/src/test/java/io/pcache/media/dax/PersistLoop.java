package io.pcache.media.dax;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import jdk.nio.mapmode.ExtendedMapMode;

/**
 * A process for the VM script ({@code src/test/vm/dax-vm-test.sh}) to run under {@code strace}:
 *
 * <ul>
 *   <li>{@code dax PATH COUNT}: opens {@code dax:PATH} (a file is created with 64 MiB) and does COUNT times a
 *       4 KiB write and its persist; the strace of this must show no msync;
 *   <li>{@code control PATH COUNT}: the same on a plain {@code MapMode.READ_WRITE} mapping of PATH
 *       with {@code force()} of the slice, which is what a non-DAX persist does; its strace must
 *       show COUNT msyncs (proves the strace filter sees them);
 *   <li>{@code chardev PATH}: tries {@code FileChannel.map} on a character device (devdax) and
 *       prints what the JDK says.
 * </ul>
 *
 * Prints one line {@code RESULT ...} and exits 0, or prints {@code FAILED ...} and exits 1.
 */
public final class PersistLoop {

  private PersistLoop() {}

  public static void main(String[] args) throws IOException {
    String mode = args[0];
    Path path = Path.of(args[1]);
    switch (mode) {
      case "dax" -> dax(path, Integer.parseInt(args[2]));
      case "control" -> control(path, Integer.parseInt(args[2]));
      case "chardev" -> chardev(path);
      default -> {
        System.out.println("FAILED unknown mode " + mode);
        System.exit(1);
      }
    }
  }

  private static void dax(Path path, int count) throws IOException {
    boolean device = path.startsWith("/dev");
    MediaOptions options = device ? MediaOptions.existing() : MediaOptions.create(64L << 20);
    SplittableRandom random = new SplittableRandom(7);
    try (CacheMedia media = new DaxMediaProvider().open(path.toString(), options);
        Arena arena = Arena.ofConfined()) {
      long size = media.size();
      MemorySegment block = arena.allocate(4096);
      long t0 = System.nanoTime();
      for (int i = 0; i < count; i++) {
        long offset = random.nextLong(size / 4096) * 4096;
        block.set(ValueLayout.JAVA_LONG, 0, i);
        media.write(offset, block);
        media.persist(offset, 4096);
      }
      long micros = (System.nanoTime() - t0) / 1000;
      System.out.println("RESULT dax " + media.name() + " " + media.persistenceDomain() + ": " + count
          + " write+persist of 4 KiB in " + micros + " us (" + (micros * 1000 / Math.max(1, count)) + " ns each)");
    }
  }

  private static void control(Path path, int count) throws IOException {
    long size = 64L << 20;
    SplittableRandom random = new SplittableRandom(7);
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ,
            StandardOpenOption.WRITE);
        Arena arena = Arena.ofShared()) {
      MemorySegment map = ch.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
      long t0 = System.nanoTime();
      for (int i = 0; i < count; i++) {
        long offset = random.nextLong(size / 4096) * 4096;
        map.set(ValueLayout.JAVA_LONG, offset, i);
        map.asSlice(offset, 4096).force();
      }
      long micros = (System.nanoTime() - t0) / 1000;
      System.out.println("RESULT control " + path + ": " + count + " store+force of 4 KiB (READ_WRITE mapping) in "
          + micros + " us");
    }
  }

  private static void chardev(Path path) {
    for (FileChannel.MapMode mode : new FileChannel.MapMode[] {FileChannel.MapMode.READ_WRITE,
        ExtendedMapMode.READ_WRITE_SYNC}) {
      FileChannel ch;
      try {
        ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
      } catch (IOException | RuntimeException e) {
        System.out.println("RESULT chardev " + mode + ": FileChannel.open failed: " + e);
        continue;
      }
      try (ch; Arena arena = Arena.ofShared()) {
        long channelSize = ch.size();
        try {
          MemorySegment m = ch.map(mode, 0, 2L << 20, arena);
          System.out.println("RESULT chardev " + mode + ": opened, size() " + channelSize + ", map OK "
              + m.byteSize());
        } catch (IOException | RuntimeException e) {
          System.out.println("RESULT chardev " + mode + ": opened, size() " + channelSize
              + ", FileChannel.map refused: " + e);
        }
      } catch (IOException | RuntimeException e) {
        System.out.println("RESULT chardev " + mode + ": " + e);
      }
    }
  }
}
