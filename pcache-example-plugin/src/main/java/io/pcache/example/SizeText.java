package io.pcache.example;

import java.io.IOException;
import java.util.Locale;

/** Parses the size part of a {@code mem:} location: {@code 4096}, {@code 512K}, {@code 1G}, {@code 2T}. */
final class SizeText {

  private SizeText() {}

  /**
   * Parses a byte count with an optional binary unit {@code K}, {@code M}, {@code G} or {@code T}
   * (case-insensitive, an optional {@code iB} or {@code B} after it is accepted).
   *
   * @param spec the whole device spec, for the message
   * @throws IOException when the text is not such a size, is zero, or overflows a {@code long}
   */
  static long parse(String spec, String text) throws IOException {
    String t = text.strip().toUpperCase(Locale.ROOT);
    if (t.endsWith("IB")) {
      t = t.substring(0, t.length() - 2);
    } else if (t.endsWith("B") && t.length() > 1) {
      t = t.substring(0, t.length() - 1);
    }
    int shift = 0;
    if (!t.isEmpty()) {
      switch (t.charAt(t.length() - 1)) {
        case 'K' -> shift = 10;
        case 'M' -> shift = 20;
        case 'G' -> shift = 30;
        case 'T' -> shift = 40;
        default -> shift = 0;
      }
    }
    String digits = shift == 0 ? t : t.substring(0, t.length() - 1);
    if (digits.isEmpty() || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw new IOException(spec + ": bad size '" + text + "' (expected bytes with an optional unit K, M, G or T,"
          + " for example mem:1G or mem:NAME:512M)");
    }
    long value;
    try {
      value = Long.parseLong(digits);
    } catch (NumberFormatException e) {
      throw new IOException(spec + ": size '" + text + "' is too large", e);
    }
    if (value == 0) {
      throw new IOException(spec + ": size '" + text + "' is zero; give a positive size such as mem:1G");
    }
    if (value > (Long.MAX_VALUE >> shift)) {
      throw new IOException(spec + ": size '" + text + "' is too large");
    }
    return value << shift;
  }
}
