package io.pcache.frontend.nbd;

import io.pcache.frontend.nbd.NbdEncoder.OptionReplies;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The handshake of one connection as a pure function of what the client sent: client flags and
 * options in, reply bytes and an {@link Action} out. No I/O: the connection writes the replies and
 * carries out the action (start TLS, enter transmission, close).
 *
 * <h2>What is answered how</h2>
 *
 * <table>
 *   <caption>Options</caption>
 *   <tr><th>option</th><th>answer</th></tr>
 *   <tr><td>EXPORT_NAME</td><td>size, flags (and 124 zeroes unless NO_ZEROES), transmission; an
 *       unknown export drops the connection (the option has no error reply)</td></tr>
 *   <tr><td>INFO, GO</td><td>INFO_EXPORT, NAME and DESCRIPTION if asked for, BLOCK_SIZE always
 *       (the server enforces 512-byte alignment and the payload limit), ACK; ERR_UNKNOWN for an
 *       unknown export; ERR_INVALID for malformed data</td></tr>
 *   <tr><td>LIST</td><td>one SERVER per export, ACK; ERR_INVALID if it carries data</td></tr>
 *   <tr><td>ABORT</td><td>ACK, then the connection closes</td></tr>
 *   <tr><td>STARTTLS</td><td>ACK then TLS (modes optional and required); ERR_POLICY when TLS is off;
 *       ERR_INVALID once TLS is active or with data</td></tr>
 *   <tr><td>STRUCTURED_REPLY</td><td>ACK (again ACK if repeated); ERR_INVALID with data</td></tr>
 *   <tr><td>LIST_META_CONTEXT</td><td>{@code base:allocation} for no query, {@code base:} or
 *       {@code base:allocation}; other namespaces are ignored</td></tr>
 *   <tr><td>SET_META_CONTEXT</td><td>selects {@code base:allocation}; needs structured replies
 *       (else ERR_INVALID)</td></tr>
 *   <tr><td>anything else</td><td>ERR_UNSUP, and the handshake goes on</td></tr>
 * </table>
 *
 * <p>With TLS required, before TLS is active every option but STARTTLS and ABORT gets
 * ERR_TLS_REQD (EXPORT_NAME drops the connection). STARTTLS forgets structured replies and meta
 * contexts, as the specification demands. While the server shuts down, options get
 * ERR_SHUTDOWN.
 */
final class Negotiation {

  /** What the connection does after writing the reply. */
  enum Action {
    /** Read the next option. */
    CONTINUE,
    /** Upgrade the connection to TLS, then call {@link #tlsStarted()} and read the next option. */
    START_TLS,
    /** Enter transmission with {@link #session()}. */
    TRANSMISSION,
    /** The client aborted (the ACK is in the reply); close. */
    ABORT,
    /** Drop the connection now, without a reply. */
    DISCONNECT
  }

  /**
   * @param reply the bytes to send (possibly empty)
   * @param action what to do next
   * @param note why, for the log (empty when nothing to say)
   */
  record Outcome(ByteBuffer reply, Action action, String note) {}

  /**
   * The result of a successful handshake.
   *
   * @param export the export selected
   * @param structured whether structured replies were negotiated
   * @param metaContextId the id of {@code base:allocation} if selected for this export, else -1
   * @param tls whether the connection runs over TLS
   * @param flags the transmission flags sent
   */
  record Session(Export export, boolean structured, int metaContextId, boolean tls, int flags) {}

  /** The id handed out for {@code base:allocation} (ids are opaque to clients). */
  static final int BASE_ALLOCATION_ID = 1;

  private static final ByteBuffer NOTHING = ByteBuffer.allocate(0);

  private final Map<String, Export> exports = new LinkedHashMap<>();
  private final Export defaultExport;
  private final TlsMode tlsMode;
  private final int maxPayload;

  private boolean fixedNewstyle;
  private boolean noZeroes;
  private boolean tls;
  private boolean structured;
  private Export metaExport;
  private boolean baseAllocation;
  private Session session;

  /**
   * @param exports the exports, the first being the default one; names unique
   * @param tlsMode the TLS policy
   * @param maxPayload the largest READ or WRITE accepted, advertised as the maximum block size
   */
  Negotiation(List<Export> exports, TlsMode tlsMode, int maxPayload) {
    if (exports.isEmpty()) {
      throw new IllegalArgumentException("no exports");
    }
    for (Export e : exports) {
      if (this.exports.putIfAbsent(e.name(), e) != null) {
        throw new IllegalArgumentException("two exports named '" + e.name() + "'");
      }
    }
    this.defaultExport = exports.getFirst();
    this.tlsMode = tlsMode;
    this.maxPayload = maxPayload;
  }

  /** Handles the client flags that follow the greeting. */
  Outcome clientFlags(int flags) {
    if ((flags & ~Nbd.KNOWN_CLIENT_FLAGS) != 0) {
      return new Outcome(NOTHING, Action.DISCONNECT, "unknown client flags 0x" + Integer.toHexString(flags));
    }
    fixedNewstyle = (flags & Nbd.FLAG_C_FIXED_NEWSTYLE) != 0;
    noZeroes = (flags & Nbd.FLAG_C_NO_ZEROES) != 0;
    if (tlsMode == TlsMode.REQUIRED && !fixedNewstyle) {
      return new Outcome(NOTHING, Action.DISCONNECT,
          "TLS is required but the client does not speak fixed newstyle, so it cannot start TLS");
    }
    return new Outcome(NOTHING, Action.CONTINUE, "");
  }

  /** Handles an option whose data was too long to read. */
  Outcome optionTooLarge(int code, long length) {
    return reply(new OptionReplies().error(code, Nbd.REP_ERR_TOO_BIG, Nbd.optionName(code) + " with " + length
        + " bytes of data is too large (limit " + NbdDecoder.MAX_OPTION_DATA + ")"), Action.CONTINUE, "");
  }

  /**
   * Handles one option.
   *
   * @param shuttingDown whether the server is stopping: options other than ABORT then fail with
   *     ERR_SHUTDOWN
   */
  Outcome option(int code, byte[] data, boolean shuttingDown) {
    OptionReplies r = new OptionReplies();
    if (shuttingDown && code != Nbd.OPT_ABORT) {
      if (code == Nbd.OPT_EXPORT_NAME) {
        return new Outcome(NOTHING, Action.DISCONNECT, "server shutting down");
      }
      return reply(r.error(code, Nbd.REP_ERR_SHUTDOWN, "the server is shutting down"), Action.CONTINUE, "");
    }
    if (tlsMode == TlsMode.REQUIRED && !tls && code != Nbd.OPT_STARTTLS && code != Nbd.OPT_ABORT) {
      if (code == Nbd.OPT_EXPORT_NAME) {
        return new Outcome(NOTHING, Action.DISCONNECT, "NBD_OPT_EXPORT_NAME before TLS, which this server requires");
      }
      return reply(r.error(code, Nbd.REP_ERR_TLS_REQD, "this server requires TLS: send NBD_OPT_STARTTLS first"),
          Action.CONTINUE, "");
    }
    return switch (code) {
      case Nbd.OPT_EXPORT_NAME -> exportName(data);
      case Nbd.OPT_ABORT -> reply(r.ack(code), Action.ABORT, "client aborted the handshake");
      case Nbd.OPT_LIST -> list(r, data);
      case Nbd.OPT_STARTTLS -> startTls(r, data);
      case Nbd.OPT_INFO, Nbd.OPT_GO -> infoOrGo(r, code, data);
      case Nbd.OPT_STRUCTURED_REPLY -> {
        if (data.length != 0) {
          yield reply(r.error(code, Nbd.REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data"),
              Action.CONTINUE, "");
        }
        structured = true;
        yield reply(r.ack(code), Action.CONTINUE, "");
      }
      case Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT -> metaContext(r, code, data);
      default -> reply(r.error(code, Nbd.REP_ERR_UNSUP, Nbd.optionName(code) + " is not supported by this server"),
          Action.CONTINUE, "");
    };
  }

  /** TLS is now active: negotiated state is forgotten, as the specification requires. */
  void tlsStarted() {
    tls = true;
    structured = false;
    baseAllocation = false;
    metaExport = null;
  }

  /** The session, once an option returned {@link Action#TRANSMISSION}. */
  Session session() {
    return session;
  }

  boolean structured() {
    return structured;
  }

  boolean tlsActive() {
    return tls;
  }

  private Outcome exportName(byte[] data) {
    String name = new String(data, StandardCharsets.UTF_8);
    Export e = lookup(name);
    if (e == null) {
      return new Outcome(NOTHING, Action.DISCONNECT, "NBD_OPT_EXPORT_NAME for unknown export '" + name + "'");
    }
    enter(e);
    return new Outcome(NbdEncoder.exportNameReply(e.device().size(), session.flags(), noZeroes), Action.TRANSMISSION,
        "");
  }

  private Outcome list(OptionReplies r, byte[] data) {
    if (data.length != 0) {
      return reply(r.error(Nbd.OPT_LIST, Nbd.REP_ERR_INVALID, "NBD_OPT_LIST takes no data"), Action.CONTINUE, "");
    }
    for (Export e : exports.values()) {
      r.reply(Nbd.OPT_LIST, Nbd.REP_SERVER, NbdEncoder.server(e.name(), e.description()));
    }
    return reply(r.ack(Nbd.OPT_LIST), Action.CONTINUE, "");
  }

  private Outcome startTls(OptionReplies r, byte[] data) {
    int code = Nbd.OPT_STARTTLS;
    if (data.length != 0) {
      return reply(r.error(code, Nbd.REP_ERR_INVALID, "NBD_OPT_STARTTLS takes no data"), Action.CONTINUE, "");
    }
    if (tls) {
      return reply(r.error(code, Nbd.REP_ERR_INVALID, "TLS is already active"), Action.CONTINUE, "");
    }
    if (tlsMode == TlsMode.OFF) {
      return reply(r.error(code, Nbd.REP_ERR_POLICY, "TLS is not enabled on this server (nbd.tls=off)"),
          Action.CONTINUE, "");
    }
    if (!fixedNewstyle) {
      return reply(r.error(code, Nbd.REP_ERR_POLICY, "TLS needs the fixed newstyle handshake"), Action.CONTINUE, "");
    }
    return reply(r.ack(code), Action.START_TLS, "");
  }

  private Outcome infoOrGo(OptionReplies r, int code, byte[] data) {
    ByteBuffer d = ByteBuffer.wrap(data);
    if (data.length < 6) {
      return invalid(r, code, "option data of " + data.length + " bytes is shorter than 6");
    }
    long nameLength = Integer.toUnsignedLong(d.getInt(0));
    if (nameLength > data.length - 6) {
      return invalid(r, code, "name length " + nameLength + " does not fit in " + data.length + " bytes of data");
    }
    int n = Short.toUnsignedInt(d.getShort(4 + (int) nameLength));
    if (data.length != 4 + nameLength + 2 + 2L * n) {
      return invalid(r, code, "option data of " + data.length + " bytes does not hold a " + nameLength
          + "-byte name and " + n + " information requests");
    }
    String name = new String(data, 4, (int) nameLength, StandardCharsets.UTF_8);
    BitSet requested = new BitSet();
    for (int i = 0; i < n; i++) {
      requested.set(Short.toUnsignedInt(d.getShort(4 + (int) nameLength + 2 + 2 * i)));
    }
    Export e = lookup(name);
    if (e == null) {
      return reply(r.error(code, Nbd.REP_ERR_UNKNOWN, "no export named '" + name + "'; exports: "
          + String.join(", ", exports.keySet())), Action.CONTINUE, "");
    }
    int flags = e.transmissionFlags(structured);
    r.reply(code, Nbd.REP_INFO, NbdEncoder.infoExport(e.device().size(), flags));
    if (requested.get(Nbd.INFO_NAME)) {
      r.reply(code, Nbd.REP_INFO, NbdEncoder.infoName(e.name()));
    }
    if (requested.get(Nbd.INFO_DESCRIPTION) && !e.description().isEmpty()) {
      r.reply(code, Nbd.REP_INFO, NbdEncoder.infoDescription(e.description()));
    }
    r.reply(code, Nbd.REP_INFO, NbdEncoder.infoBlockSize(minimumBlock(e), preferredBlock(e), maxPayload));
    r.ack(code);
    if (code == Nbd.OPT_INFO) {
      return reply(r, Action.CONTINUE, "");
    }
    enter(e);
    return reply(r, Action.TRANSMISSION, "");
  }

  private Outcome metaContext(OptionReplies r, int code, byte[] data) {
    boolean set = code == Nbd.OPT_SET_META_CONTEXT;
    if (set) {
      baseAllocation = false; // the selection is replaced even when the option fails
      metaExport = null;
      if (!structured) {
        return invalid(r, code, "NBD_OPT_SET_META_CONTEXT needs NBD_OPT_STRUCTURED_REPLY first");
      }
    }
    ByteBuffer d = ByteBuffer.wrap(data);
    if (data.length < 8) {
      return invalid(r, code, "option data of " + data.length + " bytes is shorter than 8");
    }
    long nameLength = Integer.toUnsignedLong(d.getInt(0));
    if (nameLength > data.length - 8) {
      return invalid(r, code, "name length " + nameLength + " does not fit in " + data.length + " bytes of data");
    }
    String name = new String(data, 4, (int) nameLength, StandardCharsets.UTF_8);
    long queries = Integer.toUnsignedLong(d.getInt(4 + (int) nameLength));
    int pos = 8 + (int) nameLength;
    List<String> list = new ArrayList<>();
    for (long i = 0; i < queries; i++) {
      if (data.length - pos < 4) {
        return invalid(r, code, "query " + i + " of " + queries + " lies beyond the option data");
      }
      long length = Integer.toUnsignedLong(d.getInt(pos));
      if (length > data.length - pos - 4) {
        return invalid(r, code, "query " + i + " of length " + length + " lies beyond the option data");
      }
      list.add(new String(data, pos + 4, (int) length, StandardCharsets.UTF_8));
      pos += 4 + (int) length;
    }
    if (pos != data.length) {
      return invalid(r, code, (data.length - pos) + " bytes after the last query");
    }
    Export e = lookup(name);
    if (e == null) {
      return reply(r.error(code, Nbd.REP_ERR_UNKNOWN, "no export named '" + name + "'"), Action.CONTINUE, "");
    }
    boolean match = set ? list.contains(Nbd.BASE_ALLOCATION)
        : list.isEmpty() || list.contains("base:") || list.contains(Nbd.BASE_ALLOCATION);
    if (match) {
      r.reply(code, Nbd.REP_META_CONTEXT, NbdEncoder.metaContext(set ? BASE_ALLOCATION_ID : 0, Nbd.BASE_ALLOCATION));
    }
    if (set) {
      baseAllocation = match;
      metaExport = match ? e : null;
    }
    return reply(r.ack(code), Action.CONTINUE, "");
  }

  private void enter(Export e) {
    int id = baseAllocation && metaExport == e ? BASE_ALLOCATION_ID : -1;
    session = new Session(e, structured, id, tls, e.transmissionFlags(structured));
  }

  private Export lookup(String name) {
    return name.isEmpty() ? defaultExport : exports.get(name);
  }

  /** The minimum block size advertised: the device's logical block size. */
  static int minimumBlock(Export e) {
    return e.device().logicalBlockSize();
  }

  /** The preferred block size: the device's physical block size, at least the minimum and 512. */
  static int preferredBlock(Export e) {
    return Math.max(Math.max(e.device().physicalBlockSize(), e.device().logicalBlockSize()), 512);
  }

  private static Outcome invalid(OptionReplies r, int code, String message) {
    return reply(r.error(code, Nbd.REP_ERR_INVALID, Nbd.optionName(code) + ": " + message), Action.CONTINUE, "");
  }

  private static Outcome reply(OptionReplies r, Action action, String note) {
    return new Outcome(r.toBuffer(), action, note);
  }
}
