package io.pcache.core.engine;

import io.pcache.core.format.Layout;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The index: one {@link Stripe} per 4 MiB of the backing device (dm-pcache's
 * {@code req_key_tree}), created on first use so that a 16 TiB backing device costs 32 MiB of
 * references and nothing more until it is touched.
 */
final class KeyIndex {

  private final AtomicReferenceArray<Stripe> stripes;

  KeyIndex(long backingSize) {
    long n = (backingSize + Layout.SUBTREE_SIZE - 1) >>> Layout.SUBTREE_SHIFT;
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("backing device too large for the index: " + backingSize + " bytes");
    }
    this.stripes = new AtomicReferenceArray<>((int) Math.max(1, n));
  }

  int stripeCount() {
    return stripes.length();
  }

  static int stripeOf(long off) {
    return (int) (off >>> Layout.SUBTREE_SHIFT);
  }

  /** The stripe that holds offset {@code off}, created if needed. */
  Stripe stripe(long off) {
    int i = stripeOf(off);
    Stripe s = stripes.get(i);
    if (s == null) {
      Stripe created = new Stripe();
      s = stripes.compareAndExchange(i, null, created);
      if (s == null) {
        s = created;
      }
    }
    return s;
  }

  /** The stripe at index {@code i}, or null if never used. */
  Stripe stripeAt(int i) {
    return stripes.get(i);
  }

  /** Total keys (takes each stripe lock in turn; for status and tests). */
  long keyCount() {
    long n = 0;
    for (int i = 0; i < stripes.length(); i++) {
      Stripe s = stripes.get(i);
      if (s != null) {
        s.lock.lock();
        try {
          n += s.size();
        } finally {
          s.lock.unlock();
        }
      }
    }
    return n;
  }
}
