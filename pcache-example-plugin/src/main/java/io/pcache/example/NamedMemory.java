package io.pcache.example;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The memory behind {@code mem:NAME:SIZE}: kept for the life of the JVM, open by at most one
 * {@link MemCacheMedia} at a time (like a locked file), and handed to each open in an arena of its
 * own so that closing the media makes its {@code mapping()} unusable without losing the bytes.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>A {@link MemorySegment} can only be revoked by closing its arena, and making a second view
 * of the same memory in another arena needs a restricted method ({@code reinterpret}), which a
 * plugin should not need. So {@link #release()} moves the bytes: it allocates a new arena, copies
 * the memory into it and closes the old one. That costs one copy per close (about 0.1 s for 1 GiB
 * at 10 GB/s) and, for that moment, twice the memory. Opening costs nothing.
 *
 * <p>All state changes are under this object's monitor; the memory itself is accessed without
 * locks by the media that holds the claim.
 */
final class NamedMemory {

  private final String name;
  private final long size;
  private Arena arena;
  private MemorySegment memory;
  private boolean claimed;
  private boolean forgotten;

  private NamedMemory(String name, long size, Arena arena, MemorySegment memory) {
    this.name = name;
    this.size = size;
    this.arena = arena;
    this.memory = memory;
  }

  /**
   * Allocates zeroed memory for a new name.
   *
   * @throws IOException when the memory cannot be allocated
   */
  static NamedMemory allocate(String spec, String name, long size) throws IOException {
    Arena arena = Arena.ofShared();
    return new NamedMemory(name, size, arena, MemMediaProvider.allocate(spec, arena, size));
  }

  String name() {
    return name;
  }

  long size() {
    return size;
  }

  /**
   * Claims the memory for one media.
   *
   * @return the memory, valid until {@link #release()}
   * @throws IOException when another media holds it, or it was just forgotten
   */
  synchronized MemorySegment claim(String spec) throws IOException {
    if (forgotten) {
      throw new IOException(spec + ": named memory '" + name + "' was freed while being opened; open it again");
    }
    if (claimed) {
      throw new IOException(spec + ": named memory '" + name + "' is already open; close the other media first"
          + " (a named memory is used by one media at a time, like a locked file)");
    }
    claimed = true;
    return memory;
  }

  /**
   * Gives the claim back. The bytes are kept for the next claim (moved to a new arena, see the
   * class comment) unless the memory was {@linkplain #forget() forgotten}, in which case it is
   * freed.
   *
   * @throws IOException when the memory to move the bytes into cannot be allocated; the bytes are
   *     then kept where they are, and views from the last claim stay usable
   */
  synchronized void release() throws IOException {
    if (!claimed) {
      return;
    }
    claimed = false;
    if (forgotten) {
      arena.close();
      return;
    }
    Arena next = Arena.ofShared();
    MemorySegment moved;
    try {
      moved = MemMediaProvider.allocate("mem:" + name + ":" + size, next, size);
    } catch (IOException e) {
      throw new IOException("mem:" + name + ":" + size + ": closed, but the views handed out could not be revoked;"
          + " the data is kept", e);
    }
    MemorySegment.copy(memory, 0, moved, 0, size);
    Arena old = arena;
    arena = next;
    memory = moved;
    old.close();
  }

  /** Marks the memory to be freed: now if nobody holds it, else when the holder releases it. */
  synchronized void forget() {
    if (forgotten) {
      return;
    }
    forgotten = true;
    if (!claimed) {
      arena.close();
    }
  }
}
