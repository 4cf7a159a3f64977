package io.pcache.benchmarks;

import io.pcache.api.BlockDevice;
import io.pcache.api.media.CacheMedia;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.engine.EngineOptions;
import io.pcache.core.metrics.LatencyHistogram;
import io.pcache.core.metrics.MeteredBlockDevice;
import io.pcache.testkit.MemoryBacking;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What metering costs: 4 KiB read hits and writes through the bare engine and through the {@link
 * MeteredBlockDevice} the front-end gets, side by side in one run, and one {@link
 * LatencyHistogram#record} alone.
 *
 * <p>Run: {@code java --enable-native-access=ALL-UNNAMED -jar pcache-benchmarks/target/benchmarks.jar
 * MetricsBenchmark -t 1}; see BENCHMARKS.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class MetricsBenchmark {

  static final long MEDIA = 2L << 30;
  static final long BACKING = 1L << 30;
  static final long WRITE_SPAN = 256L << 20;
  static final long READ_SPAN = 256L << 20;
  static final int BLOCK = 4096;

  CacheMedia media;
  CacheEngine engine;
  BlockDevice metered;
  final LatencyHistogram histogram = new LatencyHistogram();
  static final BlockDevice NOOP = new BlockDevice() {
    @Override
    public String name() {
      return "noop";
    }

    @Override
    public long size() {
      return BACKING;
    }

    @Override
    public int logicalBlockSize() {
      return 512;
    }

    @Override
    public int physicalBlockSize() {
      return 4096;
    }

    @Override
    public java.util.Set<Feature> features() {
      return java.util.Set.of();
    }

    @Override
    public void read(long offset, MemorySegment dst) {}

    @Override
    public void write(long offset, MemorySegment src, boolean fua) {}

    @Override
    public void flush() {}

    @Override
    public void discard(long offset, long length) {}

    @Override
    public void writeZeroes(long offset, long length, boolean fua) {}
  };
  final BlockDevice meteredNoop = new MeteredBlockDevice(NOOP);

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    media = Fixtures.tmpfsMedia("metrics", MEDIA);
    engine = CacheEngine.open(media, MemoryBacking.allocate("mem:backing", BACKING), EngineOptions.defaults(),
        Fixtures.threshold(70));
    metered = new MeteredBlockDevice(engine);
    MemorySegment chunk = Arena.ofAuto().allocate(1 << 20, 4096);
    for (long off = BACKING - READ_SPAN; off < BACKING; off += chunk.byteSize()) {
      engine.write(off, chunk, false);
    }
    engine.flush();
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    engine.close();
    Fixtures.delete(media);
  }

  @State(Scope.Thread)
  public static class ThreadState {
    final SplittableRandom random = new SplittableRandom(Thread.currentThread().threadId());
    final MemorySegment buf = Arena.ofAuto().allocate(BLOCK, 4096);

    long writeOffset() {
      return random.nextLong(WRITE_SPAN / BLOCK) * BLOCK;
    }

    long readOffset() {
      return BACKING - READ_SPAN + random.nextLong(READ_SPAN / BLOCK) * BLOCK;
    }
  }

  @Benchmark
  public void readHitBare(ThreadState t) throws Exception {
    engine.read(t.readOffset(), t.buf);
  }

  @Benchmark
  public void readHitMetered(ThreadState t) throws Exception {
    metered.read(t.readOffset(), t.buf);
  }

  @Benchmark
  public void writeBare(ThreadState t) throws Exception {
    engine.write(t.writeOffset(), t.buf, false);
  }

  @Benchmark
  public void writeMetered(ThreadState t) throws Exception {
    metered.write(t.writeOffset(), t.buf, false);
  }

  /** The wrapper alone, around a device that does nothing: what metering adds to any request. */
  @Benchmark
  public void noopReadBare(ThreadState t) throws Exception {
    NOOP.read(t.readOffset(), t.buf);
  }

  @Benchmark
  public void noopReadMetered(ThreadState t) throws Exception {
    meteredNoop.read(t.readOffset(), t.buf);
  }

  @Benchmark
  public void histogramRecord(ThreadState t) {
    histogram.record(t.random.nextLong(1L << 20));
  }
}
