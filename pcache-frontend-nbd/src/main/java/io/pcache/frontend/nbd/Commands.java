package io.pcache.frontend.nbd;

import io.pcache.api.BlockDevice;
import io.pcache.api.BlockIOException;
import io.pcache.frontend.nbd.BufferPool.Buf;
import io.pcache.frontend.nbd.NbdDecoder.Header;
import io.pcache.frontend.nbd.NbdDecoder.Payload;
import io.pcache.frontend.nbd.Negotiation.Session;
import java.nio.ByteBuffer;

/**
 * Runs transmission requests against the export's {@link BlockDevice} and encodes the replies:
 * first {@link #check} (a pure function of the request and the session), then the device call.
 * {@link #tryServe} runs a request only if that is quick (the device's {@code try} variants), for
 * the connection's reader; {@link #serve} runs any request, on a thread that may block.
 *
 * <h2>Errors</h2>
 *
 * <table>
 *   <caption>What a bad request gets (checked in this order)</caption>
 *   <tr><th>request</th><th>error</th></tr>
 *   <tr><td>unknown command</td><td>EINVAL</td></tr>
 *   <tr><td>a flag not valid for the command, or not advertised (FUA, DF, FAST_ZERO)</td><td>EINVAL</td></tr>
 *   <tr><td>WRITE, TRIM, WRITE_ZEROES on a read-only export</td><td>EPERM</td></tr>
 *   <tr><td>FLUSH, TRIM, WRITE_ZEROES not advertised; BLOCK_STATUS without a selected context</td>
 *       <td>EINVAL</td></tr>
 *   <tr><td>READ or WRITE longer than the maximum payload (the write's payload is read and
 *       dropped first)</td><td>EINVAL</td></tr>
 *   <tr><td>FLUSH with a nonzero offset or length</td><td>EINVAL</td></tr>
 *   <tr><td>offset or length not a multiple of the minimum block size</td><td>EINVAL</td></tr>
 *   <tr><td>beyond the end: WRITE, WRITE_ZEROES</td><td>ENOSPC</td></tr>
 *   <tr><td>beyond the end: READ, TRIM, CACHE, BLOCK_STATUS</td><td>EINVAL</td></tr>
 *   <tr><td>BLOCK_STATUS of length 0 (an extent must be nonempty)</td><td>EINVAL</td></tr>
 * </table>
 *
 * <p>This follows proto.md: "SHOULD return NBD_EINVAL if ... not aligned ... or is larger than the
 * advertised maximum block size", "NBD_ENOSPC if it receives a write request including one or more
 * sectors beyond the size of the device", "NBD_EPERM if it receives a write or trim request on a
 * read-only export", and "SHOULD NOT return NBD_EOVERFLOW except ... NBD_CMD_READ when
 * NBD_CMD_FLAG_DF is supported": an oversized request is EINVAL, and since a read is always one
 * data chunk, DF never needs EOVERFLOW. Other zero-length requests succeed without touching the
 * device. TRIM, WRITE_ZEROES, CACHE and BLOCK_STATUS carry no payload and may be longer than the
 * maximum payload.
 *
 * <p>A {@link BlockIOException} from the device becomes the NBD error of the same name (EIO,
 * EINVAL, ENOSPC, ESHUTDOWN), except where the specification reserves one: ENOTSUP only for a
 * WRITE_ZEROES with FAST_ZERO, EOVERFLOW only for a READ with DF; elsewhere they become EINVAL.
 * Any other exception is EIO (and logged with its stack trace). With structured replies an error
 * travels as an NBD_REPLY_TYPE_ERROR chunk with the exception's message (device, offset, length).
 *
 * <h2>Replies</h2>
 *
 * <p>A read's data is read straight into a pooled buffer behind the room for the header, so the
 * reply is one buffer: a simple reply, or with structured replies one OFFSET_DATA chunk
 * flagged DONE (the data is complete before the header is sent, so no error can follow it).
 * Other successes are simple replies, which the specification allows once structured replies are
 * negotiated; BLOCK_STATUS answers with one extent covering the request, flags 0 (allocated, not
 * known to be zero): the cache has no notion of holes, and 0 is always a truthful status.
 */
final class Commands {

  /** Where replies go. */
  @FunctionalInterface
  interface Replies {
    /**
     * Sends (or queues) one reply.
     *
     * @param done runs once the buffers are no longer needed (written, or dropped with the connection)
     */
    void send(Runnable done, ByteBuffer... buffers);
  }

  private static final Runnable NOTHING = () -> { };

  /** Why a request is refused. */
  record Rejection(int error, String message) {}

  private static final System.Logger LOG = System.getLogger(Commands.class.getPackageName());

  private final Session session;
  private final BlockDevice device;
  private final long maxPayload;
  private final BufferPool pool;
  private final String who;

  /**
   * @param who names the connection in log lines
   */
  Commands(Session session, long maxPayload, BufferPool pool, String who) {
    this.session = session;
    this.device = session.export().device();
    this.maxPayload = maxPayload;
    this.pool = pool;
    this.who = who;
  }

  /** The buffer bytes a request needs while in flight (its read data or write payload). */
  long bufferCost(Header h) {
    return switch (h.type()) {
      case Nbd.CMD_READ, Nbd.CMD_WRITE -> h.length() <= maxPayload ? h.length() : 0;
      default -> 0;
    };
  }

  /** Null if the request may run, else the error to answer with. */
  Rejection check(Header h, Payload payload) {
    int type = h.type();
    int flags = h.flags();
    int tf = session.flags();
    long offset = h.offset();
    long length = h.length();
    String cmd = Nbd.commandName(type);
    switch (type) {
      case Nbd.CMD_READ, Nbd.CMD_WRITE, Nbd.CMD_FLUSH, Nbd.CMD_TRIM, Nbd.CMD_CACHE, Nbd.CMD_WRITE_ZEROES,
          Nbd.CMD_BLOCK_STATUS -> { }
      default -> {
        return new Rejection(Nbd.EINVAL, "unknown command " + type);
      }
    }
    int allowed = Nbd.CMD_FLAG_FUA;
    switch (type) {
      case Nbd.CMD_READ -> allowed |= (tf & Nbd.FLAG_SEND_DF) != 0 ? Nbd.CMD_FLAG_DF : 0;
      case Nbd.CMD_WRITE_ZEROES ->
          allowed |= Nbd.CMD_FLAG_NO_HOLE | ((tf & Nbd.FLAG_SEND_FAST_ZERO) != 0 ? Nbd.CMD_FLAG_FAST_ZERO : 0);
      case Nbd.CMD_BLOCK_STATUS -> allowed |= Nbd.CMD_FLAG_REQ_ONE;
      default -> { }
    }
    if ((flags & ~allowed) != 0) {
      return new Rejection(Nbd.EINVAL, "command flags 0x" + Integer.toHexString(flags & ~allowed)
          + " are not valid for " + cmd + " on this connection");
    }
    if ((flags & Nbd.CMD_FLAG_FUA) != 0 && (tf & Nbd.FLAG_SEND_FUA) == 0) {
      return new Rejection(Nbd.EINVAL, "FUA was not offered for this export");
    }
    boolean writes = type == Nbd.CMD_WRITE || type == Nbd.CMD_TRIM || type == Nbd.CMD_WRITE_ZEROES;
    if (writes && session.export().readOnly()) {
      return new Rejection(Nbd.EPERM, cmd + " on the read-only export '" + session.export().name() + "'");
    }
    switch (type) {
      case Nbd.CMD_FLUSH -> {
        if ((tf & Nbd.FLAG_SEND_FLUSH) == 0) {
          return new Rejection(Nbd.EINVAL, "NBD_CMD_FLUSH was not offered for this export");
        }
        if (offset != 0 || length != 0) {
          return new Rejection(Nbd.EINVAL, "NBD_CMD_FLUSH with a nonzero offset or length");
        }
        return null;
      }
      case Nbd.CMD_TRIM -> {
        if ((tf & Nbd.FLAG_SEND_TRIM) == 0) {
          return new Rejection(Nbd.EINVAL, "NBD_CMD_TRIM was not offered for this export");
        }
      }
      case Nbd.CMD_WRITE_ZEROES -> {
        if ((tf & Nbd.FLAG_SEND_WRITE_ZEROES) == 0) {
          return new Rejection(Nbd.EINVAL, "NBD_CMD_WRITE_ZEROES was not offered for this export");
        }
      }
      case Nbd.CMD_BLOCK_STATUS -> {
        if (session.metaContextId() < 0) {
          return new Rejection(Nbd.EINVAL, "NBD_CMD_BLOCK_STATUS without a metadata context selected for this export");
        }
      }
      case Nbd.CMD_WRITE -> {
        if (payload == Payload.DISCARDED) {
          return new Rejection(Nbd.EINVAL, "NBD_CMD_WRITE of " + length + " bytes exceeds the maximum payload of "
              + maxPayload + " bytes");
        }
      }
      case Nbd.CMD_READ -> {
        if (length > maxPayload) {
          return new Rejection(Nbd.EINVAL, "NBD_CMD_READ of " + length + " bytes exceeds the maximum payload of "
              + maxPayload + " bytes");
        }
      }
      default -> { }
    }
    int block = device.logicalBlockSize();
    if (Long.remainderUnsigned(offset, block) != 0 || length % block != 0) {
      return new Rejection(Nbd.EINVAL, cmd + " at offset " + Long.toUnsignedString(offset) + " length " + length
          + " is not aligned to the " + block + "-byte block size");
    }
    long size = device.size();
    if (offset < 0 || offset > size || length > size - offset) {
      int error = type == Nbd.CMD_WRITE || type == Nbd.CMD_WRITE_ZEROES ? Nbd.ENOSPC : Nbd.EINVAL;
      return new Rejection(error, cmd + " at offset " + Long.toUnsignedString(offset) + " length " + length
          + " goes beyond the end of the " + size + "-byte export");
    }
    if (type == Nbd.CMD_BLOCK_STATUS && length == 0) {
      return new Rejection(Nbd.EINVAL, "NBD_CMD_BLOCK_STATUS of length 0");
    }
    return null;
  }

  /**
   * Checks and runs one request and sends its reply: exactly one call of {@link Replies#send},
   * whatever happens on the device (device errors become error replies).
   *
   * @param payload the write's data (after the headroom), or null
   */
  void serve(Header h, Payload disposition, Buf payload, Replies out) {
    Rejection bad = check(h, disposition);
    if (bad != null) {
      LOG.log(System.Logger.Level.DEBUG, () -> who + ": " + h + " refused with " + Nbd.errorName(bad.error()) + ": "
          + bad.message());
      sendError(out, h, bad.error(), bad.message());
      return;
    }
    long offset = h.offset();
    long length = h.length();
    boolean fua = (h.flags() & Nbd.CMD_FLAG_FUA) != 0;
    try {
      switch (h.type()) {
        case Nbd.CMD_READ -> {
          read(h, out, false);
          return;
        }
        case Nbd.CMD_WRITE -> {
          if (length > 0) {
            device.write(offset, payload.payload(length), fua);
          }
        }
        case Nbd.CMD_FLUSH -> device.flush();
        case Nbd.CMD_TRIM -> {
          if (length > 0) {
            device.discard(offset, length);
            if (fua) {
              device.flush();
            }
          }
        }
        case Nbd.CMD_WRITE_ZEROES -> {
          if (length > 0) {
            device.writeZeroes(offset, length, fua);
          }
        }
        case Nbd.CMD_CACHE -> {
          if (length > 0) {
            device.prefetch(offset, length);
          }
        }
        case Nbd.CMD_BLOCK_STATUS -> {
          out.send(NOTHING, NbdEncoder.blockStatusChunk(h.cookie(), session.metaContextId(), (int) length, 0));
          return;
        }
        default -> throw new AssertionError(h);
      }
    } catch (BlockIOException e) {
      int error = errorFor(e.errno(), h);
      logFailure(h, error, e);
      sendError(out, h, error, e.getMessage());
      return;
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, who + ": " + h + " failed unexpectedly on " + device.name(), e);
      sendError(out, h, Nbd.EIO, e + " on " + device.name());
      return;
    }
    out.send(NOTHING, NbdEncoder.simpleReply(0, h.cookie()));
  }

  /**
   * Runs a request if that is quick, for the connection's reader to run it inline: refusals,
   * BLOCK_STATUS, requests of length 0, and reads, writes and flushes that the device can do
   * without waiting ({@link BlockDevice#tryRead}, {@link BlockDevice#tryWrite}, {@link
   * BlockDevice#tryFlush}). Returns true when the reply was sent (one call of {@link
   * Replies#send}), false when nothing was sent: then the request goes to {@link #serve} on a
   * thread that may block.
   *
   * @param payload the write's data (after the headroom), or null
   */
  boolean tryServe(Header h, Payload disposition, Buf payload, Replies out) {
    Rejection bad = check(h, disposition);
    if (bad != null) {
      serve(h, disposition, payload, out); // refuses, and logs why
      return true;
    }
    long offset = h.offset();
    long length = h.length();
    boolean fua = (h.flags() & Nbd.CMD_FLAG_FUA) != 0;
    try {
      switch (h.type()) {
        case Nbd.CMD_READ -> {
          return read(h, out, true);
        }
        case Nbd.CMD_WRITE -> {
          if (length > 0 && !device.tryWrite(offset, payload.payload(length), fua)) {
            return false;
          }
        }
        case Nbd.CMD_FLUSH -> {
          if (!device.tryFlush()) {
            return false;
          }
        }
        case Nbd.CMD_BLOCK_STATUS -> {
          serve(h, disposition, payload, out);
          return true;
        }
        default -> { // TRIM, WRITE_ZEROES, CACHE: on a worker unless there is nothing to do
          if (length > 0) {
            return false;
          }
        }
      }
    } catch (BlockIOException e) {
      int error = errorFor(e.errno(), h);
      logFailure(h, error, e);
      sendError(out, h, error, e.getMessage());
      return true;
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, who + ": " + h + " failed unexpectedly on " + device.name(), e);
      sendError(out, h, Nbd.EIO, e + " on " + device.name());
      return true;
    }
    out.send(NOTHING, NbdEncoder.simpleReply(0, h.cookie()));
    return true;
  }

  /** Answers a request with {@code error} without running it. */
  void refuse(Header h, int error, String message, Replies out) {
    sendError(out, h, error, message);
  }

  /**
   * Reads and sends the reply; with {@code quick}, only if {@link BlockDevice#tryRead} can, else
   * returns false having sent nothing.
   */
  private boolean read(Header h, Replies out, boolean quick) {
    long cookie = h.cookie();
    int length = (int) h.length();
    if (length == 0) {
      out.send(NOTHING, session.structured() ? NbdEncoder.noneChunk(cookie) : NbdEncoder.simpleReply(0, cookie));
      return true;
    }
    Buf b = pool.acquire(length);
    try {
      if (quick) {
        if (!device.tryRead(h.offset(), b.payload(length))) {
          pool.release(b);
          return false;
        }
      } else {
        device.read(h.offset(), b.payload(length));
      }
    } catch (BlockIOException e) {
      pool.release(b);
      int error = errorFor(e.errno(), h);
      logFailure(h, error, e);
      sendError(out, h, error, e.getMessage());
      return true;
    } catch (RuntimeException | Error e) {
      pool.release(b);
      LOG.log(System.Logger.Level.ERROR, who + ": " + h + " failed unexpectedly on " + device.name(), e);
      sendError(out, h, Nbd.EIO, e + " on " + device.name());
      return true;
    }
    ByteBuffer whole = b.view(0, BufferPool.HEADROOM + length);
    int at;
    if (session.structured()) {
      at = BufferPool.HEADROOM - Nbd.CHUNK_HEADER - 8;
      NbdEncoder.chunkHeader(whole, at, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_DATA, cookie, 8 + length);
      whole.putLong(at + Nbd.CHUNK_HEADER, h.offset());
    } else {
      at = BufferPool.HEADROOM - Nbd.SIMPLE_REPLY_HEADER;
      NbdEncoder.simpleReply(whole, at, 0, cookie);
    }
    out.send(() -> pool.release(b), whole.position(at));
    return true;
  }

  /** A device error is worth a warning, except the ESHUTDOWN of every request while the engine stops. */
  private void logFailure(Header h, int error, BlockIOException e) {
    System.Logger.Level level = error == Nbd.ESHUTDOWN ? System.Logger.Level.DEBUG : System.Logger.Level.WARNING;
    LOG.log(level, () -> who + ": " + h + " failed with " + Nbd.errorName(error) + ": " + e.getMessage());
  }

  private void sendError(Replies out, Header h, int error, String message) {
    if (session.structured()) {
      out.send(NOTHING, NbdEncoder.errorChunk(h.cookie(), error, message));
    } else {
      out.send(NOTHING, NbdEncoder.simpleReply(error, h.cookie()));
    }
  }

  /** The NBD error for a device error on request {@code h}; see the class comment. */
  static int errorFor(BlockIOException.Errno errno, Header h) {
    return switch (errno) {
      case EIO -> Nbd.EIO;
      case EINVAL -> Nbd.EINVAL;
      case ENOSPC -> Nbd.ENOSPC;
      case ESHUTDOWN -> Nbd.ESHUTDOWN;
      case EOVERFLOW -> h.type() == Nbd.CMD_READ && (h.flags() & Nbd.CMD_FLAG_DF) != 0 ? Nbd.EOVERFLOW : Nbd.EINVAL;
      case ENOTSUP -> h.type() == Nbd.CMD_WRITE_ZEROES && (h.flags() & Nbd.CMD_FLAG_FAST_ZERO) != 0
          ? Nbd.ENOTSUP : Nbd.EINVAL;
    };
  }
}
