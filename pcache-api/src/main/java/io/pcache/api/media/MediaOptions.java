package io.pcache.api.media;

/**
 * How a media should be opened.
 *
 * @param createSize when the media does not exist (or is an empty file), create it with this many
 *     bytes; 0 means "open existing media only". When the media exists, a non-zero size that
 *     differs from its actual size is refused, so that a changed configuration never silently
 *     uses a differently sized cache.
 * @param readOnly open for inspection only ({@code pcache status}, {@code check}); writes throw
 *     {@link UnsupportedOperationException}
 */
public record MediaOptions(long createSize, boolean readOnly) {

  public MediaOptions {
    if (createSize < 0) {
      throw new IllegalArgumentException("createSize < 0: " + createSize);
    }
  }

  /** Open existing media for reading and writing. */
  public static MediaOptions existing() {
    return new MediaOptions(0, false);
  }

  /** Open existing media for reading only. */
  public static MediaOptions inspect() {
    return new MediaOptions(0, true);
  }

  /** Open, or create with {@code size} bytes. */
  public static MediaOptions create(long size) {
    return new MediaOptions(size, false);
  }
}
