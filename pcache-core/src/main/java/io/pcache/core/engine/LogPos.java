package io.pcache.core.engine;

/**
 * A position in the kset log: a cache segment and an offset in its data area. Positions in
 * different segments are not ordered by their numbers (kset segments are taken from anywhere);
 * the log is a chain, followed through LAST ksets.
 */
record LogPos(int segId, int off) {

  @Override
  public String toString() {
    return Integer.toUnsignedString(segId) + ":" + Integer.toUnsignedString(off);
  }
}
