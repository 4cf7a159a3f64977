package io.pcache.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SuggestionsTest {

  private static final List<String> KEYS = List.of("cache.size", "cache.device", "backing.size", "backing.device", "frontend");

  @Test
  void typosFindTheirKey() {
    assertEquals(Optional.of("cache.size"), Suggestions.closest("cache.sise", KEYS));
    assertEquals(Optional.of("backing.device"), Suggestions.closest("backing.devcie", KEYS));
    assertEquals(Optional.of("frontend"), Suggestions.closest("frontent", KEYS));
    assertEquals(Optional.of("cache.device"), Suggestions.closest("cache.device", KEYS));
  }

  @Test
  void partsFindTheWhole() {
    assertEquals(Optional.of("frontend"), Suggestions.closest("front", KEYS));
  }

  @Test
  void unrelatedWordsFindNothing() {
    assertEquals(Optional.empty(), Suggestions.closest("zebra", KEYS));
    assertEquals("", Suggestions.didYouMean("zebra", KEYS));
  }

  @Test
  void distance() {
    assertEquals(0, Suggestions.distance("abc", "abc"));
    assertEquals(1, Suggestions.distance("abc", "abd"));
    assertEquals(3, Suggestions.distance("", "abc"));
    assertEquals(1, Suggestions.distance("ab", "ba"));
    assertEquals(1, Suggestions.distance("fiel", "file"));
  }
}
