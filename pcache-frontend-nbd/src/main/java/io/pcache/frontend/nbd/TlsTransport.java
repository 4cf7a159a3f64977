package io.pcache.frontend.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/**
 * TLS (JSSE {@link SSLEngine}, server side, TLS 1.3 and 1.2) over a {@link PlainTransport}, entered
 * after NBD_OPT_STARTTLS was acknowledged.
 *
 * <p>The reader thread unwraps; writers wrap under a lock ({@code wrap} and {@code unwrap} may run
 * concurrently, as {@link SSLEngine} allows). Post-handshake messages that need an answer (a TLS
 * 1.3 KeyUpdate) are answered from the reader under the same lock. Bytes the client sent right
 * after STARTTLS that the plain reader had already buffered are handed in as {@code leftover}, so
 * a client that pipelines its ClientHello loses nothing.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>A write packs as many 16 KiB records as fit into a 256 KiB buffer before each socket write,
 * so a 1 MiB read reply costs 4 socket writes, not 64. Buffers are on the heap: JSSE's ciphers
 * work on arrays, and TLS connections are few.
 */
final class TlsTransport implements Transport {

  private static final ByteBuffer[] NOTHING = {ByteBuffer.allocate(0)};
  private static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");
  private static final int OUT_BUFFER = 256 * 1024;

  private final PlainTransport net;
  private final SSLEngine engine;
  private final ReentrantLock writeLock = new ReentrantLock();
  private ByteBuffer netIn;
  private ByteBuffer appIn;
  private ByteBuffer netOut;
  private boolean inboundDone;
  private boolean closed;

  private TlsTransport(PlainTransport net, SSLEngine engine, ByteBuffer leftover) {
    this.net = net;
    this.engine = engine;
    int packet = engine.getSession().getPacketBufferSize();
    netIn = ByteBuffer.allocate(Math.max(packet, leftover.remaining()));
    netIn.put(leftover).flip();
    appIn = ByteBuffer.allocate(engine.getSession().getApplicationBufferSize()).flip();
    netOut = ByteBuffer.allocate(Math.max(OUT_BUFFER, packet));
  }

  /**
   * Runs the TLS handshake as the server and returns the transport to use from then on.
   *
   * @param leftover bytes already read from the socket after the STARTTLS option
   * @throws IOException when the handshake fails or the client leaves; the caller closes {@code net}
   */
  static TlsTransport start(PlainTransport net, SSLContext context, ByteBuffer leftover) throws IOException {
    SSLEngine engine = context.createSSLEngine();
    engine.setUseClientMode(false);
    List<String> supported = List.of(engine.getSupportedProtocols());
    engine.setEnabledProtocols(PROTOCOLS.stream().filter(supported::contains).toArray(String[]::new));
    TlsTransport t = new TlsTransport(net, engine, leftover);
    t.handshake();
    return t;
  }

  /** The negotiated protocol and cipher suite, for the log. */
  String describe() {
    return engine.getSession().getProtocol() + " " + engine.getSession().getCipherSuite();
  }

  private void handshake() throws IOException {
    engine.beginHandshake();
    while (true) {
      HandshakeStatus hs = engine.getHandshakeStatus();
      switch (hs) {
        case NOT_HANDSHAKING, FINISHED -> {
          return;
        }
        case NEED_TASK -> runTasks();
        case NEED_WRAP -> {
          writeLock.lock();
          try {
            if (wrapAndSend(NOTHING).getStatus() == SSLEngineResult.Status.CLOSED) {
              throw new SSLHandshakeException("TLS handshake failed: the engine closed (" + hs + ")");
            }
          } finally {
            writeLock.unlock();
          }
        }
        case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
          SSLEngineResult r = unwrap();
          if (r == null) {
            throw new EOFException("the client closed the connection during the TLS handshake");
          }
          if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
            throw new SSLHandshakeException("the client ended TLS during the handshake");
          }
        }
      }
    }
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    while (true) {
      if (appIn.hasRemaining()) {
        int n = Math.min(appIn.remaining(), dst.remaining());
        dst.put(appIn.slice(appIn.position(), n));
        appIn.position(appIn.position() + n);
        return n;
      }
      if (inboundDone) {
        return -1;
      }
      SSLEngineResult r;
      try {
        r = unwrap();
      } catch (SSLException e) {
        if (closed) {
          return -1;
        }
        throw e;
      }
      if (r == null) { // end of stream without close_notify
        inboundDone = true;
        continue;
      }
      if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
        inboundDone = true;
        continue;
      }
      afterHandshakeStep(r.getHandshakeStatus());
    }
  }

  /** Answers what the engine needs after an unwrap outside the initial handshake. */
  private void afterHandshakeStep(HandshakeStatus hs) throws IOException {
    while (true) {
      switch (hs) {
        case NEED_TASK -> {
          runTasks();
          hs = engine.getHandshakeStatus();
        }
        case NEED_WRAP -> {
          writeLock.lock();
          try {
            hs = wrapAndSend(NOTHING).getHandshakeStatus();
          } finally {
            writeLock.unlock();
          }
        }
        default -> {
          return;
        }
      }
    }
  }

  /** One unwrap, reading from the socket as needed; {@code null} at the end of the stream. */
  private SSLEngineResult unwrap() throws IOException {
    while (true) {
      appIn.compact();
      SSLEngineResult r;
      try {
        r = engine.unwrap(netIn, appIn);
      } finally {
        appIn.flip();
      }
      switch (r.getStatus()) {
        case OK, CLOSED -> {
          return r;
        }
        case BUFFER_OVERFLOW -> {
          ByteBuffer bigger = ByteBuffer.allocate(appIn.remaining() + engine.getSession().getApplicationBufferSize());
          bigger.put(appIn).flip();
          appIn = bigger;
        }
        case BUFFER_UNDERFLOW -> {
          int packet = engine.getSession().getPacketBufferSize();
          if (netIn.capacity() < packet) {
            ByteBuffer bigger = ByteBuffer.allocate(packet);
            bigger.put(netIn).flip();
            netIn = bigger;
          }
          netIn.compact();
          int n;
          try {
            n = net.read(netIn);
          } finally {
            netIn.flip();
          }
          if (n < 0) {
            return null;
          }
        }
      }
    }
  }

  @Override
  public void write(ByteBuffer... srcs) throws IOException {
    writeLock.lock();
    try {
      if (closed) {
        throw new SocketException("TLS session closed");
      }
      do {
        SSLEngineResult r = wrapAndSend(srcs);
        if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
          throw new SocketException("TLS session closed by the peer");
        }
      } while (remaining(srcs));
    } finally {
      writeLock.unlock();
    }
  }

  /**
   * Wraps as much of {@code srcs} as fits in the output buffer (at least one record) and sends it.
   * Caller holds the write lock.
   */
  private SSLEngineResult wrapAndSend(ByteBuffer[] srcs) throws IOException {
    int packet = engine.getSession().getPacketBufferSize();
    netOut.clear();
    SSLEngineResult last;
    while (true) {
      last = engine.wrap(srcs, netOut);
      if (last.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW) {
        if (netOut.position() == 0) {
          netOut = ByteBuffer.allocate(packet + netOut.capacity());
          continue;
        }
        break;
      }
      boolean progress = last.bytesConsumed() > 0 || last.bytesProduced() > 0;
      if (last.getHandshakeStatus() == HandshakeStatus.NEED_TASK) {
        runTasks();
        if (!progress) {
          continue;
        }
      }
      if (last.getStatus() == SSLEngineResult.Status.CLOSED || !remaining(srcs) || netOut.remaining() < packet
          || !progress) {
        break;
      }
    }
    netOut.flip();
    if (netOut.hasRemaining()) {
      net.write(netOut);
    } else if (last.getStatus() == SSLEngineResult.Status.OK && remaining(srcs)) {
      throw new SSLException("TLS made no progress writing (handshake status " + engine.getHandshakeStatus()
          + "; renegotiation is not supported)");
    }
    return last;
  }

  private void runTasks() {
    Runnable task;
    while ((task = engine.getDelegatedTask()) != null) {
      task.run();
    }
  }

  private static boolean remaining(ByteBuffer[] srcs) {
    for (ByteBuffer b : srcs) {
      if (b.hasRemaining()) {
        return true;
      }
    }
    return false;
  }

  @Override
  public void shutdownInput() {
    net.shutdownInput();
  }

  @Override
  public void abort() {
    closed = true;
    net.abort();
  }

  @Override
  public void close() throws IOException {
    writeLock.lock();
    try {
      if (!closed) {
        closed = true;
        engine.closeOutbound();
        while (!engine.isOutboundDone()) {
          if (wrapAndSend(NOTHING).bytesProduced() == 0) {
            break;
          }
        }
      }
    } catch (IOException e) {
      // the peer is gone: no close_notify then
    } finally {
      writeLock.unlock();
      net.close();
    }
  }
}
