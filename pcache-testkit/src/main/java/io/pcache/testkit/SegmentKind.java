package io.pcache.testkit;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The kinds of {@link MemorySegment} a caller may hand to {@code CacheMedia.read} and {@code
 * write}: a driver must treat them all alike. Heap segments over {@code byte[]} and {@code long[]},
 * native segments, slices at odd offsets (so that no driver can assume alignment) and read-only
 * views (a valid source for a write).
 */
enum SegmentKind {
  HEAP {
    @Override
    MemorySegment allocate(Arena arena, int length) {
      return MemorySegment.ofArray(new byte[length]);
    }
  },
  HEAP_AT_ODD_OFFSET {
    @Override
    MemorySegment allocate(Arena arena, int length) {
      return MemorySegment.ofArray(new byte[length + 13]).asSlice(13, length);
    }
  },
  HEAP_LONGS_UNALIGNED {
    @Override
    MemorySegment allocate(Arena arena, int length) {
      return MemorySegment.ofArray(new long[length / 8 + 2]).asSlice(3, length);
    }
  },
  NATIVE {
    @Override
    MemorySegment allocate(Arena arena, int length) {
      return arena.allocate(length, 1);
    }
  },
  NATIVE_AT_ODD_OFFSET {
    @Override
    MemorySegment allocate(Arena arena, int length) {
      return arena.allocate(length + 5L, 8).asSlice(5, length);
    }
  };

  /** A zero-filled segment of {@code length} bytes; native ones live as long as {@code arena}. */
  abstract MemorySegment allocate(Arena arena, int length);

  /** A segment holding a copy of {@code bytes[from, from + length)}. */
  MemorySegment copyOf(Arena arena, byte[] bytes, int from, int length) {
    MemorySegment segment = allocate(arena, length);
    MemorySegment.copy(bytes, from, segment, ValueLayout.JAVA_BYTE, 0, length);
    return segment;
  }

  /** A segment holding a copy of {@code bytes}. */
  MemorySegment copyOf(Arena arena, byte[] bytes) {
    return copyOf(arena, bytes, 0, bytes.length);
  }

  /** The content of {@code segment} as a new array. */
  static byte[] bytesOf(MemorySegment segment) {
    return segment.toArray(ValueLayout.JAVA_BYTE);
  }
}
