package io.pcache.frontend.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/** A hand-rolled NBD client for protocol tests: every byte under the test's control. */
final class RawClient implements AutoCloseable {

  /** An option reply. */
  record OptReply(int option, int type, byte[] data) {
    ByteBuffer buf() {
      return ByteBuffer.wrap(data);
    }

    boolean isError() {
      return type < 0;
    }
  }

  /** What a successful handshake reported. */
  record Negotiated(long size, int flags, int metaContextId, int minBlock, int prefBlock, int maxBlock) {}

  /**
   * A transmission reply: a simple reply ({@code structured} false; {@code type} -1), or one
   * structured chunk.
   */
  record Reply(boolean structured, int error, long cookie, int flags, int type, byte[] data) {
    /** The error of a structured error chunk, or of a simple reply. */
    int errorCode() {
      if (!structured) {
        return error;
      }
      return (type & 0x8000) != 0 ? ByteBuffer.wrap(data).getInt(0) : 0;
    }

    String errorMessage() {
      ByteBuffer b = ByteBuffer.wrap(data);
      int n = Short.toUnsignedInt(b.getShort(4));
      return new String(data, 6, n, StandardCharsets.UTF_8);
    }

    boolean done() {
      return (flags & Nbd.REPLY_FLAG_DONE) != 0;
    }
  }

  private final Socket socket;
  private final SocketChannel channel;
  private DataInputStream in;
  private DataOutputStream out;
  private Socket tls;

  private RawClient(Socket socket, SocketChannel channel) throws IOException {
    this.socket = socket;
    this.channel = channel;
    if (socket != null) {
      in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
      out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
    } else {
      in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(channel)));
      out = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(channel)));
    }
  }

  static RawClient tcp(int port) throws IOException {
    Socket s = new Socket();
    s.setTcpNoDelay(true);
    s.setSoTimeout(15_000);
    s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    return new RawClient(s, null);
  }

  static RawClient unix(Path path) throws IOException {
    return new RawClient(null, SocketChannel.open(UnixDomainSocketAddress.of(path)));
  }

  DataOutputStream out() {
    return out;
  }

  DataInputStream in() {
    return in;
  }

  // --- Handshake -------------------------------------------------------------------------------

  /** Reads the greeting; returns the handshake flags. */
  int greeting() throws IOException {
    assertEquals(Nbd.NBDMAGIC, in.readLong(), "NBDMAGIC");
    assertEquals(Nbd.IHAVEOPT, in.readLong(), "IHAVEOPT");
    return in.readUnsignedShort();
  }

  void clientFlags(int flags) throws IOException {
    out.writeInt(flags);
    out.flush();
  }

  /** Greeting plus client flags FIXED_NEWSTYLE | NO_ZEROES. */
  void hello() throws IOException {
    assertEquals(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES, greeting());
    clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
  }

  void option(int code, byte[] data) throws IOException {
    out.writeLong(Nbd.IHAVEOPT);
    out.writeInt(code);
    out.writeInt(data.length);
    out.write(data);
    out.flush();
  }

  OptReply optReply() throws IOException {
    assertEquals(Nbd.OPTION_REPLY_MAGIC, in.readLong(), "option reply magic");
    int option = in.readInt();
    int type = in.readInt();
    int length = in.readInt();
    byte[] data = new byte[length];
    in.readFully(data);
    return new OptReply(option, type, data);
  }

  /** Replies up to and including the final one (ACK or an error). */
  List<OptReply> optReplies() throws IOException {
    List<OptReply> all = new ArrayList<>();
    while (true) {
      OptReply r = optReply();
      all.add(r);
      if (r.type() == Nbd.REP_ACK || r.isError()) {
        return all;
      }
    }
  }

  /** Sends an option and returns its replies up to the final one. */
  List<OptReply> ask(int code, byte[] data) throws IOException {
    option(code, data);
    return optReplies();
  }

  static byte[] goData(String name, int... infos) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length);
    b.putInt(n.length).put(n).putShort((short) infos.length);
    for (int i : infos) {
      b.putShort((short) i);
    }
    return b.array();
  }

  static byte[] metaData(String name, String... queries) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    int size = 8 + n.length;
    for (String q : queries) {
      size += 4 + q.getBytes(StandardCharsets.UTF_8).length;
    }
    ByteBuffer b = ByteBuffer.allocate(size);
    b.putInt(n.length).put(n).putInt(queries.length);
    for (String q : queries) {
      byte[] qb = q.getBytes(StandardCharsets.UTF_8);
      b.putInt(qb.length).put(qb);
    }
    return b.array();
  }

  /** hello, optional STRUCTURED_REPLY and SET_META_CONTEXT base:allocation, then GO with BLOCK_SIZE. */
  Negotiated handshake(String export, boolean structured, boolean blockStatus) throws IOException {
    hello();
    return negotiate(export, structured, blockStatus);
  }

  /** The part of {@link #handshake} after the hello (also used after STARTTLS). */
  Negotiated negotiate(String export, boolean structured, boolean blockStatus) throws IOException {
    if (structured) {
      assertEquals(Nbd.REP_ACK, ask(Nbd.OPT_STRUCTURED_REPLY, new byte[0]).getFirst().type());
    }
    int meta = -1;
    if (blockStatus) {
      for (OptReply r : ask(Nbd.OPT_SET_META_CONTEXT, metaData(export, Nbd.BASE_ALLOCATION))) {
        if (r.type() == Nbd.REP_META_CONTEXT) {
          meta = r.buf().getInt(0);
        }
      }
    }
    long size = -1;
    int flags = -1;
    int min = 0;
    int pref = 0;
    int max = 0;
    List<OptReply> replies = ask(Nbd.OPT_GO, goData(export, Nbd.INFO_BLOCK_SIZE));
    for (OptReply r : replies) {
      assertTrue(!r.isError(), () -> "GO failed: 0x" + Integer.toHexString(r.type()) + " "
          + new String(r.data(), StandardCharsets.UTF_8));
      if (r.type() == Nbd.REP_INFO) {
        ByteBuffer b = r.buf();
        switch (b.getShort(0)) {
          case Nbd.INFO_EXPORT -> {
            size = b.getLong(2);
            flags = Short.toUnsignedInt(b.getShort(10));
          }
          case Nbd.INFO_BLOCK_SIZE -> {
            min = b.getInt(2);
            pref = b.getInt(6);
            max = b.getInt(10);
          }
          default -> { }
        }
      }
    }
    return new Negotiated(size, flags, meta, min, pref, max);
  }

  /** After an acknowledged STARTTLS: upgrades this TCP client to TLS. */
  void startTls(SSLContext context) throws IOException {
    SSLSocket s = (SSLSocket) context.getSocketFactory().createSocket(socket, "localhost", socket.getPort(), true);
    s.setUseClientMode(true);
    s.startHandshake();
    tls = s;
    in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
    out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream()));
  }

  // --- Transmission ----------------------------------------------------------------------------

  void request(int flags, int type, long cookie, long offset, long length) throws IOException {
    header(flags, type, cookie, offset, length);
    out.flush();
  }

  void write(int flags, long cookie, long offset, byte[] data) throws IOException {
    header(flags, Nbd.CMD_WRITE, cookie, offset, data.length);
    out.write(data);
    out.flush();
  }

  void header(int flags, int type, long cookie, long offset, long length) throws IOException {
    out.writeInt(Nbd.REQUEST_MAGIC);
    out.writeShort(flags);
    out.writeShort(type);
    out.writeLong(cookie);
    out.writeLong(offset);
    out.writeInt((int) length);
  }

  /** A simple reply; if it carries no error, {@code dataLength} bytes of data follow it. */
  Reply simple(int dataLength) throws IOException {
    assertEquals(Nbd.SIMPLE_REPLY_MAGIC, in.readInt(), "simple reply magic");
    int error = in.readInt();
    long cookie = in.readLong();
    byte[] data = new byte[error == 0 ? dataLength : 0];
    in.readFully(data);
    return new Reply(false, error, cookie, 0, -1, data);
  }

  /** Like {@link #simple(int)}, or null when the server closed the connection instead. */
  Reply simpleOrEnd(int dataLength) throws IOException {
    int first;
    try {
      first = in.read();
    } catch (IOException e) {
      return null;
    }
    if (first < 0) {
      return null;
    }
    int magic = (first << 24) | (in.readUnsignedByte() << 16) | (in.readUnsignedByte() << 8) | in.readUnsignedByte();
    assertEquals(Nbd.SIMPLE_REPLY_MAGIC, magic, "simple reply magic");
    int error = in.readInt();
    long cookie = in.readLong();
    byte[] data = new byte[error == 0 ? dataLength : 0];
    in.readFully(data);
    return new Reply(false, error, cookie, 0, -1, data);
  }

  /**
   * The next reply of either kind; a simple reply is assumed to carry no data (use {@link
   * #simple(int)} for reads without structured replies).
   */
  Reply next() throws IOException {
    int magic = in.readInt();
    if (magic == Nbd.SIMPLE_REPLY_MAGIC) {
      int error = in.readInt();
      return new Reply(false, error, in.readLong(), 0, -1, new byte[0]);
    }
    assertEquals(Nbd.STRUCTURED_REPLY_MAGIC, magic, "reply magic");
    int flags = in.readUnsignedShort();
    int type = in.readUnsignedShort();
    long cookie = in.readLong();
    int length = in.readInt();
    byte[] data = new byte[length];
    in.readFully(data);
    return new Reply(true, 0, cookie, flags, type, data);
  }

  /** Whether the server closed the connection (end of stream or reset) before sending anything more. */
  boolean closedByServer() throws IOException {
    try {
      return in.read() < 0;
    } catch (EOFException e) {
      return true;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true; // connection reset
    }
  }

  /** Closes the client's sending side only. */
  void shutdownOutput() throws IOException {
    out.flush();
    if (socket != null) {
      socket.shutdownOutput();
    } else {
      channel.shutdownOutput();
    }
  }

  @Override
  public void close() throws IOException {
    if (tls != null) {
      tls.close();
    }
    if (socket != null) {
      socket.close();
    } else {
      channel.close();
    }
  }
}
