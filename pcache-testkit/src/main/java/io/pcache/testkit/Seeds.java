package io.pcache.testkit;

import java.util.SplittableRandom;

/**
 * Seeded randomness for tests: every randomized test takes its seed from here and prints it, so
 * a failure is reproduced with {@code -Dpcache.test.seed=N}.
 */
public final class Seeds {

  private Seeds() {}

  /** The seed for this run: {@code -Dpcache.test.seed} if set, otherwise a fresh one. */
  public static long seed() {
    String fixed = System.getProperty("pcache.test.seed");
    return fixed != null ? Long.parseLong(fixed) : System.nanoTime() ^ 0x5DEECE66DL;
  }

  /** A random source for {@code testName}, printing the seed that reproduces it. */
  public static SplittableRandom random(String testName) {
    long seed = seed();
    System.out.println(testName + ": seed " + seed + " (reproduce with -Dpcache.test.seed=" + seed + ")");
    return new SplittableRandom(seed);
  }

  /** Fills {@code bytes} with pseudo-random content from {@code random}. */
  public static void fill(SplittableRandom random, byte[] bytes) {
    for (int i = 0; i < bytes.length; ) {
      long v = random.nextLong();
      for (int k = 0; k < 8 && i < bytes.length; k++, i++) {
        bytes[i] = (byte) (v >>> (8 * k));
      }
    }
  }
}
