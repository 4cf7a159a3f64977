package io.pcache.core.control;

import io.pcache.core.config.Suggestions;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The control socket's protocol: plain UTF-8 text lines ending in {@code \n}, one request per
 * line, any number of requests per connection, answered in order.
 *
 * <p>A request is words separated by blanks:
 *
 * <pre>
 *   status                      the dm-pcache status line, positions, writeback and GC state, counters
 *   show                        every run-time tunable: value, valid range, whether it is persisted
 *   set KEY VALUE               change a tunable (see {@link Tunables}); a bad key or value changes nothing
 *   writeback pause|resume      stop taking new writeback batches, or start again
 *   flush                       close every open kset (the data is already persisted)
 *   drain                       write back everything logged so far; progress lines until done
 *   ping                        answers ok
 * </pre>
 *
 * <p>A reply is zero or more data lines, each starting with {@value #DATA}, then exactly one end
 * line: {@value #OK}, {@value #INVALID} followed by a message (a bad request: unknown command, key
 * or value; nothing was changed), or {@value #ERROR} followed by a message (the request was good
 * but failed). Data lines of {@code status} and {@code drain} start with a tag word ({@code
 * status}, {@code device}, {@code progress}, ...) that {@code bin/pcache} reads; the rest is text for
 * people. A line longer than {@value #MAX_LINE} bytes is refused with {@code invalid} and the
 * connection is closed (there is no way to find the next request boundary safely).
 *
 * <p>Example:
 *
 * <pre>
 *   → set gc_percent 95
 *   ← invalid gc_percent = 95 is out of range 0..90 (keeping 70)
 *   → set gc_percent 50
 *   ← . gc_percent = 50
 *   ← ok
 * </pre>
 */
public final class ControlProtocol {

  private ControlProtocol() {}

  /** The longest request or reply line, in bytes, without its {@code \n}. */
  public static final int MAX_LINE = 4096;

  /** Prefix of a data line. */
  public static final String DATA = ". ";
  /** End line of a successful reply. */
  public static final String OK = "ok";
  /** End line prefix of a refused request (nothing changed). */
  public static final String INVALID = "invalid";
  /** End line prefix of a failed request. */
  public static final String ERROR = "error";

  /** The commands and how many words follow each. */
  private static final Map<String, Integer> ARITY = Map.of(
      "status", 0, "show", 0, "set", 2, "writeback", 1, "flush", 0, "drain", 0, "ping", 0);

  private static final List<String> USAGE = List.of("status", "show", "set KEY VALUE", "writeback pause|resume",
      "flush", "drain", "ping");

  /**
   * One parsed request.
   *
   * @param command the command word, lower case
   * @param args the words after it
   */
  public record Request(String command, List<String> args) {

    public Request {
      args = List.copyOf(args);
    }

    /** The request as one line, the way a client sends it. */
    public String line() {
      return args.isEmpty() ? command : command + " " + String.join(" ", args);
    }
  }

  /**
   * Parses one request line (without its line end).
   *
   * @throws IllegalArgumentException naming the command and what is wrong with it, with the
   *     closest command for a misspelt one
   */
  public static Request parse(String line) {
    String text = line.strip();
    if (text.isEmpty()) {
      throw new IllegalArgumentException("empty request; commands: " + String.join(", ", USAGE));
    }
    List<String> words = Arrays.asList(text.split("\\s+"));
    String command = words.get(0);
    Integer arity = ARITY.get(command);
    if (arity == null) {
      throw new IllegalArgumentException("unknown command '" + command + "'" + Suggestions.didYouMean(command, ARITY.keySet())
          + "; commands: " + String.join(", ", USAGE));
    }
    List<String> args = words.subList(1, words.size());
    if (args.size() != arity) {
      throw new IllegalArgumentException("'" + command + "' takes " + (arity == 0 ? "no arguments" : arity == 1
          ? "one argument" : arity + " arguments") + ", not " + args.size() + " ('" + text + "'); usage: "
          + USAGE.stream().filter(u -> u.startsWith(command)).findFirst().orElse(command));
    }
    if (command.equals("writeback") && !args.get(0).equals("pause") && !args.get(0).equals("resume")) {
      throw new IllegalArgumentException("writeback takes pause or resume, not '" + args.get(0) + "'");
    }
    return new Request(command, args);
  }

  /** Whether {@code line} is a reply's end line. */
  static boolean isEnd(String line) {
    return line.equals(OK) || line.startsWith(INVALID + " ") || line.startsWith(ERROR + " ");
  }

  /** A data line for {@code text}, which must not hold a line break (replaced by blanks). */
  static String data(String text) {
    return DATA + text.replace('\n', ' ').replace('\r', ' ');
  }

  /** An end line for a refused request. */
  static String invalid(String message) {
    return INVALID + " " + oneLine(message);
  }

  /** An end line for a failed request. */
  static String error(String message) {
    return ERROR + " " + oneLine(message);
  }

  private static String oneLine(String message) {
    String m = message == null || message.isBlank() ? "(no message)" : message;
    return m.replace('\n', ' ').replace('\r', ' ');
  }
}
