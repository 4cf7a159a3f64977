package io.pcache.testkit;

import java.util.SplittableRandom;

/**
 * Random ranges within media of a given size, biased towards the places where drivers break: the
 * start and end of the media, 4 KiB page edges and 16 MiB segment edges. Half of the offsets are
 * uniform, the other half lie within a page of such an edge. Lengths are mostly small (up to
 * 8 KiB), sometimes up to 256 KiB and rarely up to 2 MiB, and never run past the end.
 */
final class RandomRanges {

  private static final long[] EDGE_SPACINGS = {
    CacheMediaConformance.PAGE, CacheMediaConformance.SEGMENT
  };

  private final SplittableRandom random;
  private final long size;

  RandomRanges(SplittableRandom random, long size) {
    this.random = random;
    this.size = size;
  }

  /** An offset in {@code [0, size)}. */
  long offset() {
    if (random.nextBoolean()) {
      return random.nextLong(size);
    }
    long edge =
        switch (random.nextInt(4)) {
          case 0 -> 0;
          case 1 -> size;
          default -> {
            long spacing = EDGE_SPACINGS[random.nextInt(EDGE_SPACINGS.length)];
            yield Math.min(size, spacing * random.nextLong(size / spacing + 1));
          }
        };
    long delta = random.nextLong(-CacheMediaConformance.PAGE, CacheMediaConformance.PAGE + 1);
    return Math.clamp(edge + delta, 0, size - 1);
  }

  /** A length in {@code [1, size - offset]}. */
  int length(long offset) {
    int bound =
        switch (random.nextInt(16)) {
          case 0 -> 2 << 20;
          case 1, 2, 3 -> 256 << 10;
          default -> 8 << 10;
        };
    int length = 1 + random.nextInt(bound);
    return (int) Math.min(length, size - offset);
  }
}
