package io.pcache.benchmarks;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.engine.EngineOptions;
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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * 4 KiB random writes and random read hits through the engine on a tmpfs media file, next to the
 * raw cost of the same 4 KiB copies into and out of the same mapping, in the same run. Writes are
 * sustained: the cache is full before the first measured write, so writeback and GC run all along
 * (the write path alone is {@link EngineBurstBenchmark}).
 *
 * <p>Run: {@code java -jar pcache-benchmarks/target/benchmarks.jar EngineBenchmark -t 1} (and
 * {@code -t 2}); see BENCHMARKS.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode({Mode.Throughput, Mode.SampleTime})
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class EngineBenchmark {

  static final long MEDIA = 2L << 30;
  static final long BACKING = 1L << 30;
  static final long WRITE_SPAN = 512L << 20;
  static final long READ_SPAN = 256L << 20;
  static final int BLOCK = 4096;

  CacheMedia media;
  CacheEngine engine;
  MemorySegment mapping;

  /** Data CRCs on (the default for a new cache) or off. */
  @Param({"true", "false"})
  public boolean dataCrc;

  @Setup(Level.Trial)
  public void setUp(org.openjdk.jmh.infra.BenchmarkParams params) throws Exception {
    media = Fixtures.tmpfsMedia("engine", MEDIA);
    engine = CacheEngine.open(media, MemoryBacking.allocate("mem:backing", BACKING), EngineOptions.defaults().withDataCrc(dataCrc),
        Fixtures.threshold(70));
    mapping = media.mapping();
    // Prefill the read span so that reads are hits.
    MemorySegment chunk = Arena.ofAuto().allocate(1 << 20, 4096);
    for (long off = BACKING - READ_SPAN; off < BACKING; off += chunk.byteSize()) {
      engine.write(off, chunk, false);
    }
    engine.flush();
    // Writes are measured in steady state: fill the cache until GC reclaims, so that every
    // measured write pays for its writeback and for the space GC frees for it (the burst a cache
    // absorbs before that is EngineBurstBenchmark).
    // (Only for the write benchmark: GC reclaims the oldest data first, the read span's.)
    long deadline = System.nanoTime() + 60_000_000_000L;
    boolean writes = params.getBenchmark().endsWith(".engineWrite");
    for (long off = 0; writes && engine.counters().get("gc_ksets") == 0 && System.nanoTime() < deadline;
        off = (off + chunk.byteSize()) % WRITE_SPAN) {
      engine.write(off, chunk, false);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    engine.close();
    Fixtures.delete(media);
  }

  @State(Scope.Thread)
  public static class ThreadState {
    final SplittableRandom random = new SplittableRandom(Thread.currentThread().threadId());
    final MemorySegment buf = randomFill(Arena.ofAuto().allocate(BLOCK, 4096), random);

    long writeOffset() {
      return random.nextLong(WRITE_SPAN / BLOCK) * BLOCK;
    }

    long readOffset() {
      return BACKING - READ_SPAN + random.nextLong(READ_SPAN / BLOCK) * BLOCK;
    }

    /** A random 4 KiB-aligned offset anywhere in the media (past the metadata). */
    long mappingOffset() {
      return (1L << 20) + random.nextLong((MEDIA - (2L << 20)) / BLOCK) * BLOCK;
    }
  }

  /**
   * Fills {@code buf} with random bytes: real data, not zeroes (writeback writes extents that are
   * all zero as write-zeroes, which would measure a different path).
   */
  static MemorySegment randomFill(MemorySegment buf, SplittableRandom random) {
    for (long i = 0; i < buf.byteSize(); i += 8) {
      buf.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, i, random.nextLong() | 1);
    }
    return buf;
  }

  @Benchmark
  public void engineWrite(ThreadState t) throws Exception {
    engine.write(t.writeOffset(), t.buf, false);
  }

  @Benchmark
  public void engineReadHit(ThreadState t) throws Exception {
    engine.read(t.readOffset(), t.buf);
  }

  @Benchmark
  public void rawCopyIn(ThreadState t) {
    MemorySegment.copy(t.buf, 0, mapping, t.mappingOffset(), BLOCK);
  }

  @Benchmark
  public void rawCopyOut(ThreadState t) {
    MemorySegment.copy(mapping, t.mappingOffset(), t.buf, 0, BLOCK);
  }
}
