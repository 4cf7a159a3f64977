package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The delayed close of open ksets: one task per kset however many times it fills and reopens, and it still fires. */
class KsetFlushTest {

  @Test
  void oneDelayedClosePerKsetAndItStillCloses() throws Exception {
    MemoryMedia media = MemoryMedia.allocate("mem:cache", 512L << 20);
    MemoryBacking backing = MemoryBacking.allocate("mem:backing", 64L << 20);
    EngineOptions options = EngineOptions.defaults().withKsetFlushDelay(Duration.ofMillis(300));
    CacheEngine e = CacheEngine.open(media, backing, options, new TestPolicy(70));
    MemorySegment block = MemorySegment.ofArray(new byte[4096]);
    // Each kset fills (128 keys) and reopens many times within one delay.
    for (int i = 0; i < 20_000; i++) {
      e.write((long) (i % 16_000) * 4096, block, false);
    }
    assertTrue(e.pendingKsetFlushes() <= options.ksets(), e.pendingKsetFlushes() + " delayed closes pending");
    e.write(0, block, false);
    // Without a flush, the delayed close still closes the last open kset and writeback drains it.
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!e.clean() && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertTrue(e.clean(), e.positions());
    assertEquals(0, e.pendingKsetFlushes());
    e.close();
  }
}
