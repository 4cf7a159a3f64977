/**
 * Cache media on a regular file or a tmpfs file, memory-mapped with FFM: the {@code file} media
 * provider. The implementation package is not exported; the provider is found through {@link
 * java.util.ServiceLoader} only.
 */
module io.pcache.media.file {
  requires io.pcache.api;

  provides io.pcache.api.media.MediaProvider with
      io.pcache.media.file.FileMediaProvider;
}
