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
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Replay speed: opening a cache whose log holds {@link #KEYS} keys of 4 KiB random writes
 * (writeback paused, so every key is dirty and replayed). Reported per key: keys per second is
 * the inverse.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@OperationsPerInvocation(ReplayBenchmark.KEYS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class ReplayBenchmark {

  static final int KEYS = 200_000;
  static final long BACKING = 1L << 30;

  CacheMedia media;
  MemoryBacking backing;
  CacheEngine opened;

  @Setup(Level.Trial)
  public void fill() throws Exception {
    media = Fixtures.tmpfsMedia("replay", 2L << 30);
    backing = MemoryBacking.allocate("mem:backing", BACKING);
    CacheEngine engine = CacheEngine.open(media, backing, EngineOptions.defaults(), Fixtures.threshold(90));
    engine.writeback().pause();
    SplittableRandom r = new SplittableRandom(7);
    MemorySegment buf = Arena.ofAuto().allocate(4096, 4096);
    for (int i = 0; i < KEYS; i++) {
      engine.write(r.nextLong(BACKING / 4096) * 4096, buf, false);
    }
    engine.close();
  }

  @Benchmark
  public CacheEngine replay() throws Exception {
    opened = CacheEngine.open(media, backing, EngineOptions.defaults(), Fixtures.threshold(90));
    opened.writeback().pause();
    return opened;
  }

  @TearDown(Level.Invocation)
  public void closeOpened() throws Exception {
    if (opened != null) {
      opened.close();
      opened = null;
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    Fixtures.delete(media);
  }
}
