package io.pcache.backing.block;

import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingOptions;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * The numbers in {@link BlockBackingDevice}'s implementation notes. Not a JUnit test (Surefire
 * skips it); run by hand against the test class path:
 *
 * <pre>{@code
 * java --enable-native-access=ALL-UNNAMED -cp target/classes:target/test-classes:<deps> \
 *     io.pcache.backing.block.NativeCallBenchmark [dir]
 * }</pre>
 *
 * Median over batches of 1,000 calls, after a warm-up; 4 KiB at random aligned offsets of a
 * 64 MiB file that is in the page cache.
 */
public final class NativeCallBenchmark {

  private static final int BATCH = 1_000;
  private static final int BATCHES = 200;
  private static final int FILE_SIZE = 64 << 20;
  private static final int IO = 4096;

  private NativeCallBenchmark() {}

  @FunctionalInterface
  interface Call {
    void run(long offset) throws IOException;
  }

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args.length > 0 ? args[0] : "/tmp");
    Path file = Files.createTempFile(dir, "pcache-bench", ".img");
    try {
      Files.write(file, new byte[FILE_SIZE]);
      run(file);
    } finally {
      Files.deleteIfExists(file);
    }
  }

  private static void run(Path file) throws Exception {
    BlockBackingProvider provider = new BlockBackingProvider();
    try (Arena arena = Arena.ofShared();
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        BackingDevice device = provider.open(file.toString(), BackingOptions.existing())) {
      int fd = Posix.open(file.toString(), Posix.O_RDWR | Posix.O_CLOEXEC, 0);
      MemorySegment native4k = arena.allocate(IO, 4096);
      MemorySegment heap4k = MemorySegment.ofArray(new byte[IO]);
      ByteBuffer direct = ByteBuffer.allocateDirect(IO);

      report("getpid() through jnr", off -> Posix.getpid());
      report("pread 4 KiB, jnr", off -> Posix.pread(fd, native4k.address(), IO, off));
      report("FileChannel.read 4 KiB, direct buffer", off -> channel.read(direct.clear(), off));
      report("pwrite 4 KiB, jnr", off -> Posix.pwrite(fd, native4k.address(), IO, off));
      report("FileChannel.write 4 KiB, direct buffer", off -> channel.write(direct.clear(), off));
      report("device.read 4 KiB, platform thread, native segment", off -> device.read(off, native4k));
      report("device.read 4 KiB, platform thread, heap segment", off -> device.read(off, heap4k));
      reportVirtual("device.read 4 KiB, virtual thread (RWF_NOWAIT hit)", off -> device.read(off, native4k));
      reportVirtual("device.write 4 KiB, virtual thread (hand-off)", off -> device.write(off, native4k));
      reportVirtual("preadv2 RWF_NOWAIT 4 KiB, jnr", off -> Posix.preadNowait(fd, native4k.address(), IO, off));
      reportVirtual("pread 4 KiB, jnr, on the virtual thread itself (pins)", off -> Posix.pread(fd, native4k.address(), IO, off));
      reportVirtual("FileChannel.read 4 KiB, virtual thread", off -> channel.read(direct.clear(), off));
      throughput("device.read 4 KiB, 64 virtual threads (RWF_NOWAIT hits)", Thread.ofVirtual(), 64, (off, buf) -> device.read(off, buf));
      throughput("pread 4 KiB, jnr, 64 virtual threads (pinned)", Thread.ofVirtual(), 64, (off, buf) -> Posix.pread(fd, buf.address(), IO, off));
      throughput("FileChannel.read 4 KiB, 64 virtual threads", Thread.ofVirtual(), 64, (off, buf) -> channel.read(buf.asByteBuffer(), off));
      throughput("device.write 4 KiB, 64 virtual threads (hand-off)", Thread.ofVirtual(), 64, (off, buf) -> device.write(off, buf));
      throughput("pwrite 4 KiB, jnr, 64 virtual threads (pinned)", Thread.ofVirtual(), 64, (off, buf) -> Posix.pwrite(fd, buf.address(), IO, off));
      throughput("device.read 4 KiB, 2 platform threads", Thread.ofPlatform(), 2, (off, buf) -> device.read(off, buf));
      throughput("device.read 4 KiB, 64 platform threads", Thread.ofPlatform(), 64, (off, buf) -> device.read(off, buf));
      Posix.close(fd);
    }
  }

  private static void report(String what, Call call) throws IOException {
    SplittableRandom random = new SplittableRandom(42);
    for (int i = 0; i < 50_000; i++) {
      call.run(offset(random));
    }
    double[] perCall = new double[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
      long start = System.nanoTime();
      for (int i = 0; i < BATCH; i++) {
        call.run(offset(random));
      }
      perCall[b] = (System.nanoTime() - start) / (double) BATCH;
    }
    Arrays.sort(perCall);
    System.out.printf("%-60s median %8.0f ns  p10 %8.0f  p90 %8.0f%n", what, perCall[BATCHES / 2], perCall[BATCHES / 10], perCall[BATCHES * 9 / 10]);
  }

  private static void reportVirtual(String what, Call call) throws Exception {
    Throwable[] failure = new Throwable[1];
    Thread thread = Thread.ofVirtual().name("bench-" + what).start(() -> {
      try {
        report(what, call);
      } catch (Throwable t) {
        failure[0] = t;
      }
    });
    thread.join();
    if (failure[0] != null) {
      throw new IllegalStateException(failure[0]);
    }
  }

  @FunctionalInterface
  interface BufferCall {
    void run(long offset, MemorySegment buffer) throws IOException;
  }

  private static void throughput(String what, Thread.Builder builder, int threads, BufferCall call) throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    LongAdder ops = new LongAdder();
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      SplittableRandom random = new SplittableRandom(t);
      workers.add(builder.name("bench-io-" + t).start(() -> {
        try (Arena arena = Arena.ofConfined()) {
          MemorySegment buffer = arena.allocate(IO, 4096);
          while (!stop.get()) {
            call.run(offset(random), buffer);
            ops.increment();
          }
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
      }));
    }
    Thread.sleep(1000);
    ops.reset();
    long start = System.nanoTime();
    Thread.sleep(3000);
    long n = ops.sum();
    double seconds = (System.nanoTime() - start) / 1e9;
    stop.set(true);
    for (Thread worker : workers) {
      worker.join();
    }
    System.out.printf("%-60s %,10.0f ops/s%n", what, n / seconds);
  }

  private static long offset(SplittableRandom random) {
    return (long) random.nextInt(FILE_SIZE / IO) * IO;
  }
}
