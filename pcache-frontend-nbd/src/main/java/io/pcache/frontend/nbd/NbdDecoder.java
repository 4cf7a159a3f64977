package io.pcache.frontend.nbd;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Decodes what an NBD client sends, from the client flags to the last request, as a pure state
 * machine: bytes in, {@linkplain Event events} out, no I/O, no threads, no allocation but the events
 * and option data. Input may arrive in fragments of any size, down to one byte.
 *
 * <h2>Use</h2>
 *
 * <p>Call {@link #next(ByteBuffer)} with the bytes received so far (the buffer in read mode); it
 * consumes what it can and returns one event, or {@code null} when it needs more input. Handle the
 * event completely before calling again, because the caller steers the decoder between events:
 *
 * <ul>
 *   <li>after the {@link Option} that enters transmission ({@code NBD_OPT_GO} answered with
 *       success, or {@code NBD_OPT_EXPORT_NAME}), call {@link #enterTransmission()}: from then on
 *       the bytes are requests;
 *   <li>on {@link PayloadNeeded} (a {@code NBD_CMD_WRITE} within the payload limit), call {@link
 *       #attachPayload(ByteBuffer)} with a buffer of exactly the payload's length; the decoder fills
 *       it and then returns the {@link Request}. Until then it consumes nothing, which is how a
 *       caller that is out of buffers pauses the stream. While the payload is incomplete and the
 *       input is drained, {@link #directTarget()} hands out that buffer, so that the caller can
 *       read the socket straight into it.
 * </ul>
 *
 * <h2>Bad input</h2>
 *
 * <p>A wrong option or request magic (including the extended-header magic, which is never
 * negotiated here) puts the decoder in a terminal bad state: {@link #next} then returns the same
 * {@link Malformed} event forever and consumes nothing more; the caller closes the connection.
 * Everything else is syntactically valid at this level and is judged by the caller: unknown
 * options and commands, flags, ranges. Two oversized items are skipped without buffering: an
 * option whose data exceeds {@link #MAX_OPTION_DATA} (reported as {@link OptionTooLarge}) and a
 * write payload beyond the payload limit (reported as a {@link Request} whose payload was {@link
 * Payload#DISCARDED}), so that the stream stays in step and the caller can answer with an error
 * instead of dropping the connection.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>Headers are gathered in a 28-byte scratch array, so a header split anywhere costs one copy of
 * at most 28 bytes; a payload is copied once from the input into the attached buffer, or not at all
 * when the caller reads into {@link #directTarget()}. The largest allocation the decoder makes on
 * its own is an option's data, bounded by {@link #MAX_OPTION_DATA} (64 KiB: an export name or
 * context query is at most 4 KiB by the specification, so no valid option comes near it).
 */
final class NbdDecoder {

  /** The longest option data accepted; longer option data is skipped. */
  static final int MAX_OPTION_DATA = 64 * 1024;

  /** Something the client sent. */
  sealed interface Event permits ClientFlags, Option, OptionTooLarge, PayloadNeeded, Request, Malformed {}

  /** The 32 client flags that follow the server's greeting. */
  record ClientFlags(int flags) implements Event {}

  /** An option request with its data. */
  record Option(int code, byte[] data) implements Event {
    Option {
      Objects.requireNonNull(data, "data");
    }
  }

  /** An option whose data was longer than {@link #MAX_OPTION_DATA}; the data was skipped. */
  record OptionTooLarge(int code, long length) implements Event {}

  /**
   * A request header as sent.
   *
   * @param flags the command flags (16 bits)
   * @param type the command (16 bits)
   * @param cookie the client's handle, echoed in the reply
   * @param offset the offset, an unsigned 64-bit value (negative here when above 2^63)
   * @param length the length, an unsigned 32-bit value
   */
  record Header(int flags, int type, long cookie, long offset, long length) {
    @Override
    public String toString() {
      return Nbd.commandName(type) + " flags 0x" + Integer.toHexString(flags) + " cookie 0x" + Long.toHexString(cookie)
          + " offset " + Long.toUnsignedString(offset) + " length " + length;
    }
  }

  /** A write's header was read; the decoder waits for {@link #attachPayload(ByteBuffer)}. */
  record PayloadNeeded(Header header) implements Event {}

  /** What became of a request's payload. */
  enum Payload {
    /** The command carries none (every command but a non-empty write). */
    NONE,
    /** The payload is in the buffer given to {@link #attachPayload(ByteBuffer)}. */
    ATTACHED,
    /** The payload exceeded the limit and was read and dropped. */
    DISCARDED
  }

  /** A complete request. */
  record Request(Header header, Payload payload) implements Event {}

  /** The stream is broken; the connection must be closed. */
  record Malformed(String reason) implements Event {}

  private enum State {
    CLIENT_FLAGS, OPTION_HEADER, OPTION_DATA, OPTION_SKIP, REQUEST_HEADER, AWAIT_BUFFER, PAYLOAD, PAYLOAD_SKIP, BAD
  }

  private final long maxPayload;
  private final byte[] scratch = new byte[Nbd.REQUEST_HEADER];
  private final ByteBuffer scratchView = ByteBuffer.wrap(scratch);
  private int have;
  private State state = State.CLIENT_FLAGS;
  private long consumed;

  private int optionCode;
  private byte[] optionData;
  private int optionFill;
  private long skipRemaining;
  private long skipTotal;
  private Header header;
  private ByteBuffer payload;
  private Malformed bad;
  private boolean transmission;

  /**
   * @param maxPayload the largest write payload accepted into a buffer; larger ones are discarded
   */
  NbdDecoder(long maxPayload) {
    if (maxPayload < 0) {
      throw new IllegalArgumentException("maxPayload " + maxPayload);
    }
    this.maxPayload = maxPayload;
  }

  /**
   * Consumes input from {@code in} (position advanced) and returns the next event, or {@code null}
   * when {@code in} is drained before one is complete (or while waiting for a payload buffer).
   */
  Event next(ByteBuffer in) {
    while (true) {
      switch (state) {
        case BAD -> {
          return bad;
        }
        case CLIENT_FLAGS -> {
          if (!gather(in, 4)) {
            return null;
          }
          have = 0;
          state = State.OPTION_HEADER;
          return new ClientFlags(scratchView.getInt(0));
        }
        case OPTION_HEADER -> {
          if (!gather(in, Nbd.OPTION_HEADER)) {
            return null;
          }
          have = 0;
          long magic = scratchView.getLong(0);
          if (magic != Nbd.IHAVEOPT) {
            return fail("bad option magic 0x" + Long.toHexString(magic) + " at byte " + (consumed - Nbd.OPTION_HEADER)
                + " (expected IHAVEOPT 0x" + Long.toHexString(Nbd.IHAVEOPT) + ")");
          }
          optionCode = scratchView.getInt(8);
          long length = Integer.toUnsignedLong(scratchView.getInt(12));
          if (length > MAX_OPTION_DATA) {
            skipRemaining = length;
            skipTotal = length;
            state = State.OPTION_SKIP;
          } else {
            optionData = new byte[(int) length];
            optionFill = 0;
            state = State.OPTION_DATA;
          }
        }
        case OPTION_DATA -> {
          int n = Math.min(in.remaining(), optionData.length - optionFill);
          in.get(optionData, optionFill, n);
          optionFill += n;
          consumed += n;
          if (optionFill < optionData.length) {
            return null;
          }
          byte[] data = optionData;
          optionData = null;
          state = State.OPTION_HEADER;
          return new Option(optionCode, data);
        }
        case OPTION_SKIP -> {
          if (!skip(in)) {
            return null;
          }
          state = State.OPTION_HEADER;
          return new OptionTooLarge(optionCode, skipTotal);
        }
        case REQUEST_HEADER -> {
          if (!gather(in, Nbd.REQUEST_HEADER)) {
            return null;
          }
          have = 0;
          int magic = scratchView.getInt(0);
          if (magic != Nbd.REQUEST_MAGIC) {
            String what = magic == Nbd.EXTENDED_REQUEST_MAGIC
                ? "extended request magic (extended headers were not negotiated)"
                : "bad request magic 0x" + Integer.toHexString(magic);
            return fail(what + " at byte " + (consumed - Nbd.REQUEST_HEADER) + " (expected 0x"
                + Integer.toHexString(Nbd.REQUEST_MAGIC) + ")");
          }
          Header h = new Header(Short.toUnsignedInt(scratchView.getShort(4)),
              Short.toUnsignedInt(scratchView.getShort(6)), scratchView.getLong(8), scratchView.getLong(16),
              Integer.toUnsignedLong(scratchView.getInt(24)));
          if (h.type() != Nbd.CMD_WRITE || h.length() == 0) {
            return new Request(h, Payload.NONE);
          }
          header = h;
          if (h.length() > maxPayload) {
            skipRemaining = h.length();
            skipTotal = h.length();
            state = State.PAYLOAD_SKIP;
          } else {
            state = State.AWAIT_BUFFER;
            return new PayloadNeeded(h);
          }
        }
        case AWAIT_BUFFER -> {
          return null;
        }
        case PAYLOAD -> {
          int n = Math.min(in.remaining(), payload.remaining());
          if (n > 0) {
            payload.put(in.slice(in.position(), n));
            in.position(in.position() + n);
          }
          if (payload.hasRemaining()) {
            return null;
          }
          consumed += header.length(); // counted here: the caller may have read part of it directly
          Header h = header;
          header = null;
          payload = null;
          state = State.REQUEST_HEADER;
          return new Request(h, Payload.ATTACHED);
        }
        case PAYLOAD_SKIP -> {
          if (!skip(in)) {
            return null;
          }
          Header h = header;
          header = null;
          state = State.REQUEST_HEADER;
          return new Request(h, Payload.DISCARDED);
        }
        default -> throw new AssertionError(state);
      }
    }
  }

  /**
   * Switches from option haggling to transmission. Legal only between options, that is right
   * after an {@link Option} event was returned.
   */
  void enterTransmission() {
    if (state != State.OPTION_HEADER || have != 0) {
      throw new IllegalStateException("enterTransmission in state " + state + " with " + have + " header bytes");
    }
    state = State.REQUEST_HEADER;
    transmission = true;
  }

  /**
   * Supplies the buffer for the payload announced by {@link PayloadNeeded}: its remaining bytes must
   * equal the request's length. The decoder fills it from its position on.
   */
  void attachPayload(ByteBuffer target) {
    if (state != State.AWAIT_BUFFER) {
      throw new IllegalStateException("attachPayload in state " + state);
    }
    if (target.remaining() != header.length()) {
      throw new IllegalArgumentException("payload buffer has " + target.remaining() + " bytes for a " + header.length()
          + "-byte write");
    }
    payload = target;
    state = State.PAYLOAD;
  }

  /**
   * The attached payload buffer while it is being filled, so that the caller can read into it
   * directly once its input is drained (then call {@link #next} to collect the request); {@code
   * null} in any other state.
   */
  ByteBuffer directTarget() {
    return state == State.PAYLOAD ? payload : null;
  }

  /** Whether the decoder is in transmission (requests). */
  boolean inTransmission() {
    return transmission;
  }

  /** Whether a frame has begun and is not complete: the client vanishing now left it half sent. */
  boolean midFrame() {
    return switch (state) {
      case CLIENT_FLAGS, OPTION_HEADER, REQUEST_HEADER -> have > 0;
      case OPTION_DATA, OPTION_SKIP, AWAIT_BUFFER, PAYLOAD, PAYLOAD_SKIP -> true;
      case BAD -> false;
    };
  }

  /** Whether the decoder hit bad input. */
  boolean isBad() {
    return state == State.BAD;
  }

  /** Bytes consumed since the start of the stream. */
  long consumed() {
    return consumed;
  }

  /** Gathers {@code size} header bytes into the scratch array; true when complete. */
  private boolean gather(ByteBuffer in, int size) {
    int n = Math.min(in.remaining(), size - have);
    in.get(scratch, have, n);
    have += n;
    consumed += n;
    return have == size;
  }

  private boolean skip(ByteBuffer in) {
    int n = (int) Math.min(in.remaining(), skipRemaining);
    in.position(in.position() + n);
    skipRemaining -= n;
    consumed += n;
    return skipRemaining == 0;
  }

  private Malformed fail(String reason) {
    bad = new Malformed(reason);
    state = State.BAD;
    return bad;
  }
}
