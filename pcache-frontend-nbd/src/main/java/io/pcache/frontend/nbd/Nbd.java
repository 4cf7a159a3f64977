package io.pcache.frontend.nbd;

/**
 * The numbers of the NBD protocol (NetworkBlockDevice/nbd {@code doc/proto.md}), big-endian on the
 * wire. Names follow the specification without their {@code NBD_} prefix.
 */
final class Nbd {

  private Nbd() {}

  // --- Magic numbers ---------------------------------------------------------------------------

  /** {@code NBDMAGIC}, the first 8 bytes the server sends. */
  static final long NBDMAGIC = 0x4e42444d41474943L;
  /** {@code IHAVEOPT}: the newstyle greeting, and the start of every option request. */
  static final long IHAVEOPT = 0x49484156454F5054L;
  /** Starts every option reply (fixed newstyle). */
  static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
  /** Starts every compact request. */
  static final int REQUEST_MAGIC = 0x25609513;
  /** Starts an extended request (extension-ext-header branch; never negotiated here). */
  static final int EXTENDED_REQUEST_MAGIC = 0x21e41c71;
  static final int SIMPLE_REPLY_MAGIC = 0x67446698;
  static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

  // --- Handshake --------------------------------------------------------------------------------

  static final int FLAG_FIXED_NEWSTYLE = 1;
  static final int FLAG_NO_ZEROES = 1 << 1;
  static final int FLAG_C_FIXED_NEWSTYLE = 1;
  static final int FLAG_C_NO_ZEROES = 1 << 1;
  /** The client flags this server knows; any other bit makes it drop the connection. */
  static final int KNOWN_CLIENT_FLAGS = FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES;

  static final int OPT_EXPORT_NAME = 1;
  static final int OPT_ABORT = 2;
  static final int OPT_LIST = 3;
  static final int OPT_PEEK_EXPORT = 4;
  static final int OPT_STARTTLS = 5;
  static final int OPT_INFO = 6;
  static final int OPT_GO = 7;
  static final int OPT_STRUCTURED_REPLY = 8;
  static final int OPT_LIST_META_CONTEXT = 9;
  static final int OPT_SET_META_CONTEXT = 10;
  static final int OPT_EXTENDED_HEADERS = 11;

  static final int REP_ACK = 1;
  static final int REP_SERVER = 2;
  static final int REP_INFO = 3;
  static final int REP_META_CONTEXT = 4;
  static final int REP_ERR_UNSUP = 0x80000001;
  static final int REP_ERR_POLICY = 0x80000002;
  static final int REP_ERR_INVALID = 0x80000003;
  static final int REP_ERR_PLATFORM = 0x80000004;
  static final int REP_ERR_TLS_REQD = 0x80000005;
  static final int REP_ERR_UNKNOWN = 0x80000006;
  static final int REP_ERR_SHUTDOWN = 0x80000007;
  static final int REP_ERR_BLOCK_SIZE_REQD = 0x80000008;
  static final int REP_ERR_TOO_BIG = 0x80000009;

  static final int INFO_EXPORT = 0;
  static final int INFO_NAME = 1;
  static final int INFO_DESCRIPTION = 2;
  static final int INFO_BLOCK_SIZE = 3;

  /** The only metadata context: allocation status. */
  static final String BASE_ALLOCATION = "base:allocation";

  // --- Transmission -----------------------------------------------------------------------------

  static final int FLAG_HAS_FLAGS = 1;
  static final int FLAG_READ_ONLY = 1 << 1;
  static final int FLAG_SEND_FLUSH = 1 << 2;
  static final int FLAG_SEND_FUA = 1 << 3;
  static final int FLAG_ROTATIONAL = 1 << 4;
  static final int FLAG_SEND_TRIM = 1 << 5;
  static final int FLAG_SEND_WRITE_ZEROES = 1 << 6;
  static final int FLAG_SEND_DF = 1 << 7;
  static final int FLAG_CAN_MULTI_CONN = 1 << 8;
  static final int FLAG_SEND_RESIZE = 1 << 9;
  static final int FLAG_SEND_CACHE = 1 << 10;
  static final int FLAG_SEND_FAST_ZERO = 1 << 11;

  static final int CMD_READ = 0;
  static final int CMD_WRITE = 1;
  static final int CMD_DISC = 2;
  static final int CMD_FLUSH = 3;
  static final int CMD_TRIM = 4;
  static final int CMD_CACHE = 5;
  static final int CMD_WRITE_ZEROES = 6;
  static final int CMD_BLOCK_STATUS = 7;
  static final int CMD_RESIZE = 8;

  static final int CMD_FLAG_FUA = 1;
  static final int CMD_FLAG_NO_HOLE = 1 << 1;
  static final int CMD_FLAG_DF = 1 << 2;
  static final int CMD_FLAG_REQ_ONE = 1 << 3;
  static final int CMD_FLAG_FAST_ZERO = 1 << 4;

  static final int REPLY_FLAG_DONE = 1;
  static final int REPLY_TYPE_NONE = 0;
  static final int REPLY_TYPE_OFFSET_DATA = 1;
  static final int REPLY_TYPE_OFFSET_HOLE = 2;
  static final int REPLY_TYPE_BLOCK_STATUS = 5;
  static final int REPLY_TYPE_ERROR = 0x8001;
  static final int REPLY_TYPE_ERROR_OFFSET = 0x8002;

  static final int EPERM = 1;
  static final int EIO = 5;
  static final int ENOMEM = 12;
  static final int EINVAL = 22;
  static final int ENOSPC = 28;
  static final int EOVERFLOW = 75;
  static final int ENOTSUP = 95;
  static final int ESHUTDOWN = 108;

  /** Bytes of a compact request header. */
  static final int REQUEST_HEADER = 28;
  /** Bytes of a simple reply header. */
  static final int SIMPLE_REPLY_HEADER = 16;
  /** Bytes of a structured reply chunk header. */
  static final int CHUNK_HEADER = 20;
  /** Bytes of an option request header (magic, option, length). */
  static final int OPTION_HEADER = 16;
  /** The longest string the protocol allows (export names, messages, context names). */
  static final int MAX_STRING = 4096;

  /** The option's name for log lines and messages: {@code NBD_OPT_GO}, or the number. */
  static String optionName(int option) {
    return switch (option) {
      case OPT_EXPORT_NAME -> "NBD_OPT_EXPORT_NAME";
      case OPT_ABORT -> "NBD_OPT_ABORT";
      case OPT_LIST -> "NBD_OPT_LIST";
      case OPT_PEEK_EXPORT -> "NBD_OPT_PEEK_EXPORT";
      case OPT_STARTTLS -> "NBD_OPT_STARTTLS";
      case OPT_INFO -> "NBD_OPT_INFO";
      case OPT_GO -> "NBD_OPT_GO";
      case OPT_STRUCTURED_REPLY -> "NBD_OPT_STRUCTURED_REPLY";
      case OPT_LIST_META_CONTEXT -> "NBD_OPT_LIST_META_CONTEXT";
      case OPT_SET_META_CONTEXT -> "NBD_OPT_SET_META_CONTEXT";
      case OPT_EXTENDED_HEADERS -> "NBD_OPT_EXTENDED_HEADERS";
      default -> "option " + Integer.toUnsignedString(option);
    };
  }

  /** The command's name for log lines: {@code NBD_CMD_READ}, or the number. */
  static String commandName(int type) {
    return switch (type) {
      case CMD_READ -> "NBD_CMD_READ";
      case CMD_WRITE -> "NBD_CMD_WRITE";
      case CMD_DISC -> "NBD_CMD_DISC";
      case CMD_FLUSH -> "NBD_CMD_FLUSH";
      case CMD_TRIM -> "NBD_CMD_TRIM";
      case CMD_CACHE -> "NBD_CMD_CACHE";
      case CMD_WRITE_ZEROES -> "NBD_CMD_WRITE_ZEROES";
      case CMD_BLOCK_STATUS -> "NBD_CMD_BLOCK_STATUS";
      case CMD_RESIZE -> "NBD_CMD_RESIZE";
      default -> "command " + type;
    };
  }

  /** The error's name: {@code EINVAL}, or the number. */
  static String errorName(int error) {
    return switch (error) {
      case 0 -> "OK";
      case EPERM -> "EPERM";
      case EIO -> "EIO";
      case ENOMEM -> "ENOMEM";
      case EINVAL -> "EINVAL";
      case ENOSPC -> "ENOSPC";
      case EOVERFLOW -> "EOVERFLOW";
      case ENOTSUP -> "ENOTSUP";
      case ESHUTDOWN -> "ESHUTDOWN";
      default -> "error " + error;
    };
  }
}
