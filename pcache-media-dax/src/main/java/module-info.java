/**
 * Cache media on persistent memory: files on a file system mounted with {@code -o dax}, mapped
 * with {@code MAP_SYNC} ({@code ExtendedMapMode.READ_WRITE_SYNC} of {@code jdk.nio.mapmode}), and
 * devdax character devices ({@code /dev/daxX.Y}) mapped through the FFM linker. The {@code dax}
 * media provider; the implementation package is not exported.
 *
 * <p>Native calls (statx, open, flock, mmap) go through {@code java.lang.foreign}: the launcher
 * passes {@code --enable-native-access=io.pcache.media.dax}. Without it, JDK 25 prints a warning
 * on first use; with {@code --illegal-native-access=deny}, devdax is refused with that reason and
 * fsdax files are still mapped (the JDK maps them).
 */
module io.pcache.media.dax {
  requires io.pcache.api;
  requires jdk.nio.mapmode;

  provides io.pcache.api.media.MediaProvider with
      io.pcache.media.dax.DaxMediaProvider;
}
