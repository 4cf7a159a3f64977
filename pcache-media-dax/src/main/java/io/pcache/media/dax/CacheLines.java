package io.pcache.media.dax;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.BufferedReader;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Writes CPU cache lines back to memory and fences: the persist barrier of devdax media, where the
 * JDK's own write-back cannot be reached.
 *
 * <h2>Why this exists</h2>
 *
 * On an fsdax file the JDK does it: {@code MemorySegment.force()} of a mapping made with {@code
 * ExtendedMapMode.READ_WRITE_SYNC} calls {@code MappedMemoryUtils.force(fd, address, isSync=true,
 * ...)}, which calls {@code Unsafe.writebackMemory} (one {@code writeback0} per 64-byte line, then
 * {@code writebackPostSync0}) instead of {@code msync}; HotSpot emits {@code clwb}, {@code
 * clflushopt} or {@code clflush} for each line and an {@code sfence} after them (JEP 352). That
 * path belongs to mappings made by {@code FileChannel.map}, and {@code FileChannel.map} cannot map
 * a devdax character device: {@code fstat} reports its size as 0, so the JDK calls {@code
 * ftruncate}, which fails with EINVAL. A devdax mapping is therefore made with {@code mmap} through
 * {@link Posix}, and {@code Unsafe.writebackMemory} is internal to {@code java.base}.
 *
 * <p>So this class carries the same instructions the JDK would emit, as a 25-byte x86-64 function
 * in a page of its own (written while {@code PROT_READ|PROT_WRITE}, then switched to {@code
 * PROT_READ|PROT_EXEC}: never writable and executable at once), called through the FFM linker as a
 * critical function (no thread-state transition):
 *
 * <pre>
 *   void writeback(void *line, size_t length)     // rdi = first line, rsi = length in bytes
 *        add  rsi, rdi ; cmp rdi, rsi ; jae done
 *   loop: clwb [rdi]            (or clflushopt [rdi], or nop; clflush [rdi])
 *        add  rdi, 64 ; cmp rdi, rsi ; jb loop
 *   done: sfence ; ret
 * </pre>
 *
 * The instruction is chosen as HotSpot chooses it: {@code clwb} when the CPU has it (writes back
 * and keeps the line cached), else {@code clflushopt}, else {@code clflush} (always present on
 * x86-64), from the {@code flags} line of {@code /proc/cpuinfo}. No pre-fence is needed: {@code
 * clwb} and {@code clflushopt} are ordered after older stores to the same line (Intel SDM vol. 2,
 * CLWB); the {@code sfence} orders the write-backs before every later store. Ranges are written
 * back in chunks of {@value #CHUNK} bytes per call so that no call holds off a safepoint for long.
 *
 * <p>Other architectures (aarch64 {@code dc cvap}) are not implemented: devdax is refused there
 * with the reason from {@link #unavailableReason()}.
 */
final class CacheLines {

  /** The cache line: 64 bytes on every x86-64. */
  static final long LINE = 64;

  /** The size of the machine code of the write-back function. */
  static final int CODE_SIZE = 25;

  /** Bytes written back per native call: 4,096 lines. */
  static final long CHUNK = 256 << 10;

  private CacheLines() {}

  private static final class Stub {
    static final MethodHandle WRITEBACK;
    static final String INSTRUCTION;
    static final String FAILURE;

    static {
      MethodHandle writeback = null;
      String instruction = null;
      String failure = null;
      String arch = System.getProperty("os.arch", "?");
      if (!arch.equals("amd64") && !arch.equals("x86_64")) {
        failure = "cache-line write-back is implemented for x86-64 only (this is " + arch + ")";
      } else if (!Posix.available()) {
        failure = Posix.unavailableReason();
      } else {
        try {
          instruction = choose(cpuFlags());
          writeback = link(code(instruction));
          selfTest(writeback);
        } catch (IOException | RuntimeException | LinkageError e) {
          failure = "cannot set up the cache-line write-back (" + e.getMessage() + ")";
          writeback = null;
        }
      }
      WRITEBACK = writeback;
      INSTRUCTION = instruction;
      FAILURE = failure;
    }
  }

  /** Whether {@link #writeBack} works here. */
  static boolean available() {
    return Stub.FAILURE == null;
  }

  /** Why {@link #writeBack} does not work here, or {@code null}. */
  static String unavailableReason() {
    return Stub.FAILURE;
  }

  /** The write-back instruction in use ({@code clwb}, {@code clflushopt}, {@code clflush}), or {@code null}. */
  static String instruction() {
    return Stub.INSTRUCTION;
  }

  /**
   * Writes back every cache line of {@code region}, then fences; an empty region is a fence only.
   * The region is passed to the native function as a segment, so its arena stays alive for the
   * duration of each call (closing it meanwhile fails instead of unmapping under the write-back).
   *
   * @param region native memory starting on a cache-line boundary
   * @throws IllegalArgumentException when the region does not start on a cache-line boundary
   * @throws IllegalStateException when the region's arena is closed, or write-back is not available
   */
  static void writeBack(MemorySegment region) {
    MethodHandle writeback = Stub.WRITEBACK;
    if (writeback == null) {
      throw new IllegalStateException(Stub.FAILURE);
    }
    if ((region.address() & (LINE - 1)) != 0) {
      throw new IllegalArgumentException("write-back must start on a cache line: address 0x"
          + Long.toHexString(region.address()));
    }
    long length = region.byteSize();
    try {
      long at = 0;
      do {
        long n = Math.min(CHUNK, length - at);
        writeback.invokeExact(region.asSlice(at, n), n);
        at += n;
      } while (at < length);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  /** HotSpot's preference: clwb, else clflushopt, else clflush. */
  static String choose(List<String> flags) {
    if (flags.contains("clwb")) {
      return "clwb";
    }
    if (flags.contains("clflushopt")) {
      return "clflushopt";
    }
    return "clflush";
  }

  /** The machine code of {@code writeback(line, end)} with {@code instruction} in the loop. */
  static byte[] code(String instruction) {
    byte[] flush = switch (instruction) {
      case "clwb" -> bytes(0x66, 0x0F, 0xAE, 0x37); // clwb [rdi]         66 0F AE /6
      case "clflushopt" -> bytes(0x66, 0x0F, 0xAE, 0x3F); // clflushopt [rdi]  66 0F AE /7
      case "clflush" -> bytes(0x90, 0x0F, 0xAE, 0x3F); // nop; clflush [rdi]   0F AE /7
      default -> throw new IllegalArgumentException("unknown write-back instruction " + instruction);
    };
    byte[] code = new byte[CODE_SIZE];
    int at = 0;
    at = put(code, at, bytes(0x48, 0x01, 0xFE)); //      0: add rsi, rdi       (rsi = end)
    at = put(code, at, bytes(0x48, 0x39, 0xF7)); //      3: cmp rdi, rsi
    at = put(code, at, bytes(0x73, 0x0D)); //            6: jae +13 (done)
    at = put(code, at, flush); //                        8: loop: write back [rdi]
    at = put(code, at, bytes(0x48, 0x83, 0xC7, 0x40)); // 12: add rdi, 64
    at = put(code, at, bytes(0x48, 0x39, 0xF7)); //     16: cmp rdi, rsi
    at = put(code, at, bytes(0x72, 0xF3)); //           19: jb -13 (loop)
    at = put(code, at, bytes(0x0F, 0xAE, 0xF8)); //     21: done: sfence
    put(code, at, bytes(0xC3)); //                      24: ret
    return code;
  }

  private static byte[] bytes(int... values) {
    byte[] b = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      b[i] = (byte) values[i];
    }
    return b;
  }

  private static int put(byte[] code, int at, byte[] part) {
    System.arraycopy(part, 0, code, at, part.length);
    return at + part.length;
  }

  /** The words of the first {@code flags} line of /proc/cpuinfo. */
  private static List<String> cpuFlags() throws IOException {
    try (BufferedReader r = Files.newBufferedReader(Path.of("/proc/cpuinfo"), StandardCharsets.UTF_8)) {
      for (String line = r.readLine(); line != null; line = r.readLine()) {
        if (line.startsWith("flags")) {
          int colon = line.indexOf(':');
          return Arrays.asList(line.substring(colon + 1).trim().toLowerCase(Locale.ROOT).split("\\s+"));
        }
      }
    }
    throw new IOException("/proc/cpuinfo has no flags line");
  }

  /** Puts {@code code} in a page of its own, makes it read-only and executable, and links it. */
  @SuppressWarnings("restricted")
  private static MethodHandle link(byte[] code) throws IOException {
    long page = 4096;
    long address = Posix.mmap(0, page, Posix.PROT_READ | Posix.PROT_WRITE,
        Posix.MAP_PRIVATE | Posix.MAP_ANONYMOUS, -1, 0);
    if (address < 0 && address >= -4095) {
      throw new IOException("mmap of a code page: " + Posix.describe((int) -address));
    }
    MemorySegment.copy(code, 0, MemorySegment.ofAddress(address).reinterpret(page), JAVA_BYTE, 0, code.length);
    int r = Posix.mprotect(address, page, Posix.PROT_READ | Posix.PROT_EXEC);
    if (r < 0) {
      Posix.munmap(address, page);
      throw new IOException("mprotect(PROT_READ|PROT_EXEC) of the code page: " + Posix.describe(-r)
          + " (a policy against executable memory, such as SELinux execmem, forbids it)");
    }
    return Linker.nativeLinker().downcallHandle(MemorySegment.ofAddress(address),
        FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG), Linker.Option.critical(false));
  }

  /** Runs the function once over native memory, spanning a chunk boundary, and checks the data. */
  private static void selfTest(MethodHandle writeback) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s = arena.allocate(3 * LINE + 8, LINE);
      for (long i = 0; i < s.byteSize(); i++) {
        s.set(JAVA_BYTE, i, (byte) i);
      }
      writeback.invokeExact(s, s.byteSize());
      writeback.invokeExact(s, 0L); // empty: fence only
      for (long i = 0; i < s.byteSize(); i++) {
        if (s.get(JAVA_BYTE, i) != (byte) i) {
          throw new IllegalStateException("the write-back function changed memory at byte " + i);
        }
      }
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }
}
