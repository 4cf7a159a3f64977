package io.pcache.api.backing;

/**
 * How a backing device should be opened.
 *
 * @param createSize when the location is a regular file that does not exist, create it sparse
 *     with this many bytes; 0 means "open an existing device only"
 * @param directIo bypass the page cache (O_DIRECT) where the device allows it
 * @param readOnly open for reading only; writes throw {@link io.pcache.api.BlockIOException}
 */
public record BackingOptions(long createSize, boolean directIo, boolean readOnly) {

  public BackingOptions {
    if (createSize < 0) {
      throw new IllegalArgumentException("createSize < 0: " + createSize);
    }
  }

  /** Open an existing device for reading and writing through the page cache. */
  public static BackingOptions existing() {
    return new BackingOptions(0, false, false);
  }
}
