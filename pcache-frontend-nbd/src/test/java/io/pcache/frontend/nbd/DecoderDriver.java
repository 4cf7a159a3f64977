package io.pcache.frontend.nbd;

import io.pcache.frontend.nbd.NbdDecoder.Event;
import io.pcache.frontend.nbd.NbdDecoder.Malformed;
import io.pcache.frontend.nbd.NbdDecoder.Option;
import io.pcache.frontend.nbd.NbdDecoder.PayloadNeeded;
import io.pcache.frontend.nbd.NbdDecoder.Request;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.IntSupplier;

/**
 * Feeds a byte stream to an {@link NbdDecoder} in fragments and records the events as text, the
 * way a connection would drive it: it enters transmission after an {@code NBD_OPT_GO} or {@code
 * NBD_OPT_EXPORT_NAME}, attaches payload buffers when asked, and sometimes reads straight into
 * {@link NbdDecoder#directTarget()}.
 */
final class DecoderDriver {

  /** The most bytes a single event may make the decoder hold (option data or a payload). */
  long largestAllocation;

  private final long maxPayload;

  DecoderDriver(long maxPayload) {
    this.maxPayload = maxPayload;
  }

  /**
   * Decodes {@code stream}, handing it over in fragments of {@code fragment.getAsInt()} bytes (at
   * least 1), and returns the events as text; stops at the first {@link Malformed}.
   *
   * @param direct whether to read payloads through {@link NbdDecoder#directTarget()}
   */
  List<String> run(byte[] stream, IntSupplier fragment, boolean direct) {
    NbdDecoder d = new NbdDecoder(maxPayload);
    List<String> events = new ArrayList<>();
    ByteBuffer in = ByteBuffer.wrap(stream).limit(0);
    ByteBuffer payload = null;
    int steps = 0;
    while (true) {
      if (++steps > 10 * stream.length + 1000) {
        throw new AssertionError("decoder does not make progress at byte " + in.position());
      }
      Event e = d.next(in);
      if (e == null) {
        if (in.hasRemaining()) {
          throw new AssertionError("decoder returned null with " + in.remaining() + " bytes left");
        }
        if (in.limit() == stream.length) {
          events.add("END" + (d.midFrame() ? " mid-frame" : ""));
          return events;
        }
        int n = Math.max(1, Math.min(fragment.getAsInt(), stream.length - in.limit()));
        ByteBuffer target = d.directTarget();
        if (direct && target != null) {
          n = Math.min(n, target.remaining());
          target.put(stream, in.limit(), n);
          in.limit(in.limit() + n).position(in.limit());
        } else {
          in.limit(in.limit() + n);
        }
        continue;
      }
      if (e instanceof Malformed m) {
        events.add("MALFORMED " + m.reason());
        int at = in.position();
        in.limit(stream.length);
        if (d.next(in) != m || in.position() != at) {
          throw new AssertionError("the bad state is not terminal");
        }
        return events;
      }
      switch (e) {
        case Option o -> {
          largestAllocation = Math.max(largestAllocation, o.data().length);
          events.add("OPTION " + o.code() + " " + HexFormat.of().formatHex(o.data()));
          if (o.code() == Nbd.OPT_GO || o.code() == Nbd.OPT_EXPORT_NAME) {
            d.enterTransmission();
          }
        }
        case PayloadNeeded p -> {
          if (p.header().length() > maxPayload) {
            throw new AssertionError("payload buffer asked for " + p.header().length() + " > " + maxPayload);
          }
          largestAllocation = Math.max(largestAllocation, p.header().length());
          payload = ByteBuffer.allocate((int) p.header().length());
          d.attachPayload(payload);
        }
        case Request r -> {
          String data = "";
          if (r.payload() == NbdDecoder.Payload.ATTACHED) {
            data = " " + HexFormat.of().formatHex(payload.array());
            payload = null;
          }
          events.add("REQUEST " + r.header() + " " + r.payload() + data);
        }
        default -> events.add(e.toString());
      }
    }
  }
}
