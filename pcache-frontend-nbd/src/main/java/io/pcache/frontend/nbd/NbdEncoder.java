package io.pcache.frontend.nbd;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Encodes what the server sends: the greeting, option replies, and transmission replies (simple
 * replies and structured reply chunks). Pure functions over byte buffers; big-endian throughout.
 */
final class NbdEncoder {

  private NbdEncoder() {}

  /** The newstyle greeting: NBDMAGIC, IHAVEOPT, handshake flags FIXED_NEWSTYLE | NO_ZEROES. */
  static ByteBuffer greeting() {
    ByteBuffer b = ByteBuffer.allocate(18);
    b.putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT).putShort((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES));
    return b.flip();
  }

  /** The option replies to one option, gathered so that they leave in one write. */
  static final class OptionReplies {
    private ByteBuffer buf = ByteBuffer.allocate(128);

    /** One reply: magic, option, type, length, data. */
    OptionReplies reply(int option, int type, byte[] data) {
      ensure(20 + data.length);
      buf.putLong(Nbd.OPTION_REPLY_MAGIC).putInt(option).putInt(type).putInt(data.length).put(data);
      return this;
    }

    OptionReplies ack(int option) {
      return reply(option, Nbd.REP_ACK, new byte[0]);
    }

    /** An error reply carrying a message for the user (at most 4096 bytes of UTF-8). */
    OptionReplies error(int option, int type, String message) {
      return reply(option, type, utf8(message, Nbd.MAX_STRING));
    }

    boolean isEmpty() {
      return buf.position() == 0;
    }

    /** The replies, ready to write. */
    ByteBuffer toBuffer() {
      return buf.duplicate().flip();
    }

    private void ensure(int more) {
      if (buf.remaining() < more) {
        ByteBuffer bigger = ByteBuffer.allocate(Math.max(buf.capacity() * 2, buf.position() + more));
        bigger.put(buf.flip());
        buf = bigger;
      }
    }
  }

  /** NBD_INFO_EXPORT: type, size, transmission flags (12 bytes). */
  static byte[] infoExport(long size, int transmissionFlags) {
    return ByteBuffer.allocate(12).putShort((short) Nbd.INFO_EXPORT).putLong(size)
        .putShort((short) transmissionFlags).array();
  }

  /** NBD_INFO_NAME: type and the canonical name. */
  static byte[] infoName(String name) {
    return typedString(Nbd.INFO_NAME, name);
  }

  /** NBD_INFO_DESCRIPTION: type and a description for humans. */
  static byte[] infoDescription(String description) {
    return typedString(Nbd.INFO_DESCRIPTION, description);
  }

  /** NBD_INFO_BLOCK_SIZE: type, minimum, preferred and maximum block size (14 bytes). */
  static byte[] infoBlockSize(int minimum, int preferred, int maximum) {
    return ByteBuffer.allocate(14).putShort((short) Nbd.INFO_BLOCK_SIZE).putInt(minimum).putInt(preferred)
        .putInt(maximum).array();
  }

  /** NBD_REP_SERVER data: name length, name, then the description if there is one. */
  static byte[] server(String name, String description) {
    byte[] n = utf8(name, Nbd.MAX_STRING);
    byte[] d = utf8(description, Nbd.MAX_STRING);
    return ByteBuffer.allocate(4 + n.length + d.length).putInt(n.length).put(n).put(d).array();
  }

  /** NBD_REP_META_CONTEXT data: context id and name. */
  static byte[] metaContext(int id, String name) {
    byte[] n = utf8(name, Nbd.MAX_STRING);
    return ByteBuffer.allocate(4 + n.length).putInt(id).put(n).array();
  }

  /** The reply to NBD_OPT_EXPORT_NAME: size, flags, and 124 zeroes unless NO_ZEROES was agreed. */
  static ByteBuffer exportNameReply(long size, int transmissionFlags, boolean noZeroes) {
    ByteBuffer b = ByteBuffer.allocate(10 + (noZeroes ? 0 : 124));
    b.putLong(size).putShort((short) transmissionFlags);
    return b.position(b.capacity()).flip();
  }

  /** Writes a 16-byte simple reply header at {@code at} (absolute; position unchanged). */
  static void simpleReply(ByteBuffer out, int at, int error, long cookie) {
    out.putInt(at, Nbd.SIMPLE_REPLY_MAGIC).putInt(at + 4, error).putLong(at + 8, cookie);
  }

  /** A simple reply without data. */
  static ByteBuffer simpleReply(int error, long cookie) {
    ByteBuffer b = ByteBuffer.allocate(Nbd.SIMPLE_REPLY_HEADER);
    simpleReply(b, 0, error, cookie);
    return b;
  }

  /** Writes a 20-byte structured reply chunk header at {@code at} (absolute; position unchanged). */
  static void chunkHeader(ByteBuffer out, int at, int flags, int type, long cookie, int length) {
    out.putInt(at, Nbd.STRUCTURED_REPLY_MAGIC).putShort(at + 4, (short) flags).putShort(at + 6, (short) type)
        .putLong(at + 8, cookie).putInt(at + 16, length);
  }

  /** The final NBD_REPLY_TYPE_NONE chunk. */
  static ByteBuffer noneChunk(long cookie) {
    ByteBuffer b = ByteBuffer.allocate(Nbd.CHUNK_HEADER);
    chunkHeader(b, 0, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, cookie, 0);
    return b;
  }

  /** A final NBD_REPLY_TYPE_ERROR chunk: error, message length, message. */
  static ByteBuffer errorChunk(long cookie, int error, String message) {
    byte[] m = utf8(message, Nbd.MAX_STRING);
    ByteBuffer b = ByteBuffer.allocate(Nbd.CHUNK_HEADER + 6 + m.length);
    chunkHeader(b, 0, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_ERROR, cookie, 6 + m.length);
    b.position(Nbd.CHUNK_HEADER);
    b.putInt(error).putShort((short) m.length).put(m);
    return b.flip();
  }

  /** A final NBD_REPLY_TYPE_BLOCK_STATUS chunk with one extent. */
  static ByteBuffer blockStatusChunk(long cookie, int contextId, int extentLength, int status) {
    ByteBuffer b = ByteBuffer.allocate(Nbd.CHUNK_HEADER + 12);
    chunkHeader(b, 0, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_BLOCK_STATUS, cookie, 12);
    b.position(Nbd.CHUNK_HEADER);
    b.putInt(contextId).putInt(extentLength).putInt(status);
    return b.flip();
  }

  /**
   * {@code s} as UTF-8, cut at a character boundary to at most {@code maxBytes} bytes, with NUL
   * characters (which NBD strings must not contain) replaced by '?'.
   */
  static byte[] utf8(String s, int maxBytes) {
    String clean = s.indexOf('\0') >= 0 ? s.replace('\0', '?') : s;
    byte[] all = clean.getBytes(StandardCharsets.UTF_8);
    if (all.length <= maxBytes) {
      return all;
    }
    CharsetEncoder enc = StandardCharsets.UTF_8.newEncoder().onMalformedInput(CodingErrorAction.REPLACE)
        .onUnmappableCharacter(CodingErrorAction.REPLACE);
    ByteBuffer out = ByteBuffer.allocate(maxBytes);
    enc.encode(CharBuffer.wrap(clean), out, true); // stops at the last whole character that fits
    byte[] cut = new byte[out.position()];
    out.flip().get(cut);
    return cut;
  }

  private static byte[] typedString(int type, String s) {
    byte[] b = utf8(s, Nbd.MAX_STRING);
    return ByteBuffer.allocate(2 + b.length).putShort((short) type).put(b).array();
  }
}
