package io.pcache.core.config;

import java.util.Collection;
import java.util.Comparator;
import java.util.Locale;
import java.util.Optional;

/** Finds the closest valid word for a misspelt key, flag or name ("did you mean ...?"). */
public final class Suggestions {

  private Suggestions() {}

  private record Scored(String candidate, int distance) {}

  /**
   * The candidate closest to {@code word} by edit distance, if it is close enough to be a likely
   * typo: at most a third of the longer word's length (at least 1 edit). A candidate that contains
   * the word, or is contained in it, also counts (for example {@code size} and {@code cache.size}).
   * Ties go to the alphabetically first candidate, so the answer is stable.
   */
  public static Optional<String> closest(String word, Collection<String> candidates) {
    String w = word.toLowerCase(Locale.ROOT);
    return candidates.stream()
        .map(c -> new Scored(c, distance(w, c.toLowerCase(Locale.ROOT))))
        .filter(s -> s.distance() <= Math.max(1, Math.max(w.length(), s.candidate().length()) / 3)
            || (w.length() >= 3 && (s.candidate().contains(w) || w.contains(s.candidate()))))
        .min(Comparator.comparingInt(Scored::distance).thenComparing(Scored::candidate))
        .map(Scored::candidate);
  }

  /** {@code "; did you mean 'x'?"} or an empty string. */
  public static String didYouMean(String word, Collection<String> candidates) {
    return closest(word, candidates).map(c -> "; did you mean '" + c + "'?").orElse("");
  }

  /** Edit distance with adjacent transpositions (optimal string alignment): "fiel" → "file" is 1. */
  static int distance(String a, String b) {
    int[][] d = new int[a.length() + 1][b.length() + 1];
    for (int i = 0; i <= a.length(); i++) {
      d[i][0] = i;
    }
    for (int j = 0; j <= b.length(); j++) {
      d[0][j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
        if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    return d[a.length()][b.length()];
  }
}
