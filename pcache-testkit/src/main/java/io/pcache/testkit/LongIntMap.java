package io.pcache.testkit;

import java.util.Arrays;

/**
 * A primitive {@code long → int} hash map with open addressing (linear probing, backward-shift
 * deletion), for the undo logs of the crash wrappers: no boxing, no per-entry objects. Keys must be
 * non-negative (page and sector numbers). Not thread-safe.
 */
final class LongIntMap {

  private static final long FREE = -1;

  private long[] keys;
  private int[] values;
  private int mask;
  private int size;

  LongIntMap(int expected) {
    int cap = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
    keys = new long[cap];
    Arrays.fill(keys, FREE);
    values = new int[cap];
    mask = cap - 1;
  }

  int size() {
    return size;
  }

  private static int mix(long key) {
    long h = key * 0x9E3779B97F4A7C15L;
    return (int) (h ^ (h >>> 32));
  }

  /** The value for {@code key}, or -1. */
  int get(long key) {
    int i = mix(key) & mask;
    while (true) {
      long k = keys[i];
      if (k == key) {
        return values[i];
      }
      if (k == FREE) {
        return -1;
      }
      i = (i + 1) & mask;
    }
  }

  /** Sets {@code key} to {@code value} (value must be >= 0). */
  void put(long key, int value) {
    if (key < 0) {
      throw new IllegalArgumentException("negative key " + key);
    }
    if ((size + 1) * 2 > keys.length) {
      grow();
    }
    int i = mix(key) & mask;
    while (true) {
      long k = keys[i];
      if (k == key) {
        values[i] = value;
        return;
      }
      if (k == FREE) {
        keys[i] = key;
        values[i] = value;
        size++;
        return;
      }
      i = (i + 1) & mask;
    }
  }

  /** Removes {@code key}; returns its value or -1. */
  int remove(long key) {
    int i = mix(key) & mask;
    while (true) {
      long k = keys[i];
      if (k == FREE) {
        return -1;
      }
      if (k == key) {
        int v = values[i];
        shiftBack(i);
        size--;
        return v;
      }
      i = (i + 1) & mask;
    }
  }

  private void shiftBack(int hole) {
    int i = hole;
    while (true) {
      i = (i + 1) & mask;
      long k = keys[i];
      if (k == FREE) {
        keys[hole] = FREE;
        return;
      }
      int home = mix(k) & mask;
      // Move k into the hole if its home does not lie cyclically in (hole, i].
      boolean homeBetween = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
      if (!homeBetween) {
        keys[hole] = k;
        values[hole] = values[i];
        hole = i;
      }
    }
  }

  private void grow() {
    long[] oldKeys = keys;
    int[] oldValues = values;
    keys = new long[oldKeys.length * 2];
    Arrays.fill(keys, FREE);
    values = new int[oldValues.length * 2];
    mask = keys.length - 1;
    size = 0;
    for (int i = 0; i < oldKeys.length; i++) {
      if (oldKeys[i] != FREE) {
        put(oldKeys[i], oldValues[i]);
      }
    }
  }

  void clear() {
    Arrays.fill(keys, FREE);
    size = 0;
  }

  /** Every key, in table order (a snapshot). */
  long[] keys() {
    long[] out = new long[size];
    int n = 0;
    for (long k : keys) {
      if (k != FREE) {
        out[n++] = k;
      }
    }
    return out;
  }

  /** Calls {@code action} for every entry; the map must not be changed meanwhile. */
  void forEach(Entry action) {
    for (int i = 0; i < keys.length; i++) {
      if (keys[i] != FREE) {
        action.accept(keys[i], values[i]);
      }
    }
  }

  @FunctionalInterface
  interface Entry {
    void accept(long key, int value);
  }
}
