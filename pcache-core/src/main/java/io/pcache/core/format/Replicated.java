package io.pcache.core.format;

import static io.pcache.core.format.Meta.U16;
import static io.pcache.core.format.Meta.U8;

import java.lang.foreign.MemorySegment;

/**
 * A metadata item kept in two replicas, each starting with dm-pcache's 8-byte header
 * {@code crc u32 | seq u8 | version u8 | res u16}.
 *
 * @param <T> the record type
 */
public interface Replicated<T extends Replicated<T>> {

  /** The 8-bit sequence number. */
  int seq();

  /** The same content with another sequence number. */
  T withSeq(int seq);

  /** Writes the whole struct, header and CRC included. */
  void encode(MemorySegment buf, long off);

  /** Writes seq, version 0 and res 0 (the CRC is written last by the caller). */
  static void encodeHeaderFields(MemorySegment buf, long off, int seq) {
    buf.set(U8, off + 4, (byte) seq);
    buf.set(U8, off + 5, (byte) 0);
    buf.set(U16, off + 6, (short) 0);
  }
}
