package io.pcache.frontend.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.frontend.nbd.BufferPool.Buf;
import org.junit.jupiter.api.Test;

class BufferPoolTest {

  @Test
  void sizeClassesReuseAndHeadroom() {
    try (BufferPool pool = new BufferPool()) {
      Buf a = pool.acquire(4096);
      assertEquals(4096, a.capacity());
      assertEquals(0, a.payload(4096).address() % 64, "payload is cache-line aligned");
      assertEquals(BufferPool.HEADROOM, a.payload(1).address() - a.segment().address());
      pool.release(a);
      assertSame(a, pool.acquire(3000), "a 3000-byte request reuses the 4 KiB buffer");
      assertEquals(8192, pool.acquire(4097).capacity());
      assertEquals(4096, pool.acquire(0).capacity());
      assertEquals(3, pool.outstanding());
    }
  }

  @Test
  void largeBuffersAreOneOffAndFreedOnRelease() {
    try (BufferPool pool = new BufferPool()) {
      Buf big = pool.acquire(3 << 20);
      assertTrue(big.capacity() >= 3 << 20);
      big.payload(3 << 20).fill((byte) 1);
      pool.release(big);
      assertThrows(IllegalStateException.class, () -> big.payload(1).fill((byte) 0), "memory is gone");
      assertEquals(0, pool.outstanding());
      assertEquals(0, pool.retainedBytes());
    }
  }

  @Test
  void retentionIsBounded() {
    try (BufferPool pool = new BufferPool(64 * 1024)) {
      Buf[] held = new Buf[40];
      for (int i = 0; i < held.length; i++) {
        held[i] = pool.acquire(4096);
      }
      assertTrue(pool.retainedBytes() <= 64 * 1024, "retained " + pool.retainedBytes());
      for (Buf b : held) {
        pool.release(b);
      }
      assertEquals(0, pool.outstanding());
    }
  }

  @Test
  void doubleReleaseIsCaught() {
    try (BufferPool pool = new BufferPool()) {
      Buf b = pool.acquire(100);
      pool.release(b);
      assertThrows(IllegalStateException.class, () -> pool.release(b));
      assertThrows(IllegalArgumentException.class, () -> pool.acquire(-1));
    }
  }
}
