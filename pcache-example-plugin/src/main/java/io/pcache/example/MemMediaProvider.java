package io.pcache.example;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.api.media.MediaProvider;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The {@code mem} media scheme: volatile cache media in anonymous native memory, for tests,
 * benchmarks and demonstrations. It is also the example of how a third-party plugin is written: it
 * depends on {@code io.pcache.api} only and is declared with {@code provides} in module-info.
 *
 * <h2>Locations</h2>
 *
 * <ul>
 *   <li>{@code mem:SIZE}, for example {@code mem:1G}: fresh zeroed memory for every open, freed on
 *       {@link CacheMedia#close()}.
 *   <li>{@code mem:NAME:SIZE}, for example {@code mem:crash1:1G}: memory kept under {@code NAME}
 *       in a static map for the life of the JVM. Closing and reopening {@code mem:crash1:1G} in
 *       the same JVM sees the same bytes, which lets a test close the media under an engine
 *       without a clean shutdown and start a new engine over the same cache, as after a process
 *       crash. A name is open by one media at a time (a second open is refused, as a locked file
 *       would be). The memory is not freed before the JVM exits (only this plugin's own tests
 *       free theirs, through a package-private hook), so tests should use a few small names.
 * </ul>
 *
 * <p>{@code SIZE} is a byte count with an optional binary unit {@code K}, {@code M}, {@code G},
 * {@code T}. {@link MediaOptions#createSize()} is only cross-checked: when it is non-zero it must
 * equal {@code SIZE}, and a named memory must be reopened with the size it was created with.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>The memory comes from {@code Arena.ofShared().allocate(size, 4096)}: page aligned, zeroed,
 * usable from any thread, and, for anonymous media, released by closing the arena, after which
 * every access through {@link CacheMedia#mapping()} fails instead of touching freed memory. A
 * 1 GiB media costs 1 GiB of resident memory at once (the allocation zeroes it, so every page is
 * touched), which is why this media is not sparse: {@code mem:64G} needs 64 GiB of RAM. 1 GiB holds
 * 63 dm-pcache segments of 16 MiB. Named memories keep their bytes across close by moving them to
 * a new arena, one copy per close; see {@link NamedMemory}.
 *
 * <p>{@link #probe} is always 0: anonymous memory is never picked for a bare path, only when the
 * user writes {@code mem:}.
 */
public final class MemMediaProvider implements MediaProvider {

  /** Page alignment of the allocation, as a real DAX mapping would have. */
  static final long ALIGNMENT = 4096;

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]+");

  /** Named memories, kept for the life of the JVM. */
  private static final Map<String, NamedMemory> NAMED = new ConcurrentHashMap<>();

  @Override
  public String name() {
    return "mem";
  }

  @Override
  public String description() {
    return "volatile RAM cache media for tests (mem:1G, or mem:NAME:1G to keep it across reopen in one JVM)";
  }

  @Override
  public List<String> capabilities() {
    return List.of("persistence: VOLATILE (anonymous memory, lost when the process exits)",
        "named memories mem:NAME:SIZE survive close and reopen within one JVM");
  }

  /** Always 0: {@code mem} is selected by its scheme only, never for a bare path. */
  @Override
  public int probe(String location) {
    return 0;
  }

  /**
   * Opens {@code SIZE} or {@code NAME:SIZE}; see the class comment.
   *
   * @throws IOException for a bad size or name, a {@code createSize} that differs from {@code SIZE},
   *     a named memory that is open already or is reopened with another size, or when the memory
   *     cannot be allocated
   */
  @Override
  public CacheMedia open(String location, MediaOptions options) throws IOException {
    String spec = "mem:" + location;
    int colon = location.indexOf(':');
    String name = colon < 0 ? null : location.substring(0, colon);
    long size = SizeText.parse(spec, colon < 0 ? location : location.substring(colon + 1));
    if (options.createSize() != 0 && options.createSize() != size) {
      throw new IOException(spec + ": the configured cache size " + options.createSize()
          + " bytes differs from the " + size + " bytes in the device spec; make them agree");
    }
    if (name == null) {
      Arena arena = Arena.ofShared();
      MemorySegment memory = allocate(spec, arena, size);
      return new MemCacheMedia(spec, memory, arena::close, options.readOnly());
    }
    if (!NAME.matcher(name).matches()) {
      throw new IOException(spec + ": bad memory name '" + name
          + "' (letters, digits, '.', '_' and '-'; for example mem:crash1:1G)");
    }
    NamedMemory named = named(spec, name, size);
    if (named.size() != size) {
      throw new IOException(spec + ": named memory '" + name + "' already exists with " + named.size()
          + " bytes, not " + size + "; reopen it with its size or use another name");
    }
    return new MemCacheMedia(spec, named.claim(spec), named::release, options.readOnly());
  }

  /**
   * Frees the named memory {@code name}: at once if no media has it open, else when that media is
   * closed. The next {@code mem:NAME:SIZE} gets fresh zeroed memory. For tests, which would
   * otherwise keep every name they used until the JVM exits.
   */
  static void forget(String name) {
    NamedMemory named = NAMED.remove(name);
    if (named != null) {
      named.forget();
    }
  }

  private static NamedMemory named(String spec, String name, long size) throws IOException {
    try {
      return NAMED.computeIfAbsent(name, n -> {
        try {
          return NamedMemory.allocate(spec, name, size);
        } catch (IOException e) {
          throw new AllocationFailed(e);
        }
      });
    } catch (AllocationFailed e) {
      throw e.getCause();
    }
  }

  /**
   * Allocates {@code size} zeroed, page-aligned bytes in {@code arena}.
   *
   * @throws IOException when the memory cannot be allocated; {@code arena} is closed then
   */
  static MemorySegment allocate(String spec, Arena arena, long size) throws IOException {
    try {
      return arena.allocate(size, ALIGNMENT);
    } catch (OutOfMemoryError | IllegalArgumentException e) {
      arena.close();
      throw new IOException(spec + ": cannot allocate " + size + " bytes of native memory (" + e.getMessage()
          + "); choose a smaller size", e);
    }
  }

  /** Carries an {@link IOException} out of {@link Map#computeIfAbsent}. */
  private static final class AllocationFailed extends RuntimeException {
    AllocationFailed(IOException cause) {
      super(cause);
    }

    @Override
    public synchronized IOException getCause() {
      return (IOException) super.getCause();
    }
  }
}
