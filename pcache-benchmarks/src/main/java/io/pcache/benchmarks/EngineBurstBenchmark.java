package io.pcache.benchmarks;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.engine.EngineOptions;
import io.pcache.testkit.MemoryBacking;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The write path alone: a burst of {@link #BURST} 4 KiB random writes per thread into an empty
 * cache (freshly formatted for every iteration, writeback paused, far below the GC threshold), next
 * to the same number of raw 4 KiB copies into random places of the same mapping. What a cache
 * absorbs before writeback and GC matter; sustained writes are {@link EngineBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@OperationsPerInvocation(EngineBurstBenchmark.BURST)
@Warmup(iterations = 4)
@Measurement(iterations = 6)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class EngineBurstBenchmark {

  static final int BURST = 100_000;

  CacheMedia media;
  MemoryBacking backing;
  CacheEngine engine;
  MemorySegment mapping;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    media = Fixtures.tmpfsMedia("burst", EngineBenchmark.MEDIA);
    backing = MemoryBacking.allocate("mem:backing", EngineBenchmark.BACKING);
    mapping = media.mapping();
  }

  /** Data CRCs on (the default for a new cache) or off. */
  @Param({"true", "false"})
  public boolean dataCrc;

  /**
   * A fresh, empty cache: the metadata area (superblock through segment 0's header) cleared, so
   * that open formats it again.
   */
  @Setup(Level.Iteration)
  public void freshCache() throws Exception {
    mapping.asSlice(4096, 20480 + 12288 - 4096).fill((byte) 0);
    engine = CacheEngine.open(media, backing, EngineOptions.defaults().withDataCrc(dataCrc), Fixtures.threshold(70));
    engine.writeback().pause();
  }

  @TearDown(Level.Iteration)
  public void closeCache() throws Exception {
    engine.close();
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    Fixtures.delete(media);
  }

  @Benchmark
  public void engineWriteBurst(EngineBenchmark.ThreadState t) throws Exception {
    for (int i = 0; i < BURST; i++) {
      engine.write(t.writeOffset(), t.buf, false);
    }
  }

  @Benchmark
  public void rawCopyInBurst(EngineBenchmark.ThreadState t) {
    for (int i = 0; i < BURST; i++) {
      MemorySegment.copy(t.buf, 0, mapping, t.mappingOffset(), EngineBenchmark.BLOCK);
    }
  }
}
