package io.pcache.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.core.format.Layout;
import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** Start-up: what is formatted, what is refused, and that every refusal says what to do. */
class StartupRefusalTest {

  static final long MEDIA = 512L << 20;
  final MemoryBacking backing = MemoryBacking.allocate("mem:backing", 16L << 20);

  private IOException refused(MemoryMedia media, EngineOptions options) {
    return assertThrows(IOException.class, () -> CacheEngine.open(media, backing, options, new TestPolicy(70)));
  }

  @Test
  void blankDeviceIsFormattedAndReopened() throws Exception {
    MemoryMedia media = MemoryMedia.allocate("mem:c", MEDIA);
    try (CacheEngine e = CacheEngine.open(media, backing, EngineOptions.defaults(), new TestPolicy(70))) {
      assertTrue(e.replayReport().formatted());
    }
    try (CacheEngine e = CacheEngine.open(media.reopen(), backing, EngineOptions.defaults(), new TestPolicy(70))) {
      assertEquals(false, e.replayReport().formatted());
      assertEquals("0 31 31 1 70 1182 0:0 0:0 0:0", e.statusLine());
    }
  }

  @Test
  void tooSmall() {
    IOException e = refused(MemoryMedia.allocate("mem:small", MEDIA - 4096), EngineOptions.defaults());
    assertTrue(e.getMessage().contains("at least 536870912 (512 MiB)"), e.getMessage());
    assertTrue(e.getMessage().contains("mem:small"), e.getMessage());
  }

  @Test
  void foreignData() {
    MemoryMedia media = MemoryMedia.allocate("mem:ext4", MEDIA);
    media.memory().set(ValueLayout.JAVA_INT_UNALIGNED, Layout.SB_OFF + 56, 0xEF53); // anything non-zero, no magic
    IOException e = refused(media, EngineOptions.defaults());
    assertTrue(e.getMessage().contains("no pcache magic"), e.getMessage());
    assertTrue(e.getMessage().contains("pcache format --force"), e.getMessage());
  }

  @Test
  void foreignMagic() {
    MemoryMedia media = MemoryMedia.allocate("mem:other", MEDIA);
    media.memory().set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), Layout.SB_OFF + 8, 0x1234L);
    IOException e = refused(media, EngineOptions.defaults());
    assertTrue(e.getMessage().contains("foreign superblock (magic 0x1234"), e.getMessage());
  }

  @Test
  void corruptSuperblock() throws Exception {
    MemoryMedia media = formatted(false);
    media.memory().set(ValueLayout.JAVA_BYTE, Layout.SB_OFF + 20, (byte) 1);
    IOException e = refused(media.reopen(), EngineOptions.defaults());
    assertTrue(e.getMessage().contains("corrupt superblock"), e.getMessage());
  }

  @Test
  void otherByteOrder() throws Exception {
    MemoryMedia media = formatted(false);
    media.memory().set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), Layout.SB_OFF + 8, Layout.SB_MAGIC);
    IOException e = refused(media.reopen(), EngineOptions.defaults());
    assertTrue(e.getMessage().contains("big-endian"), e.getMessage());
  }

  @Test
  void dataCrcSettingMustMatchTheFormat() throws Exception {
    MemoryMedia media = formatted(false);
    IOException e = refused(media.reopen(), EngineOptions.defaults().withDataCrc(true));
    assertTrue(e.getMessage().contains("formatted with data_crc=false but cache.data-crc=true"), e.getMessage());
    MemoryMedia crc = formatted(true);
    e = refused(crc.reopen(), EngineOptions.defaults().withDataCrc(false));
    assertTrue(e.getMessage().contains("formatted with data_crc=true"), e.getMessage());
    // Not asked for explicitly: the device's setting is kept (LogCorruptionTest has the other half).
    CacheEngine.open(crc.reopen(), backing, EngineOptions.defaults(), new TestPolicy(70)).close();
  }

  @Test
  void segmentCountBeyondTheDeviceIsRefused() throws Exception {
    MemoryMedia media = formatted(false);
    MemorySegment sb = MemorySegment.ofArray(new byte[24]);
    new io.pcache.core.format.Superblock(0, Layout.SB_MAGIC, 40).encode(sb, 0);
    MemorySegment.copy(sb, 0, media.memory(), Layout.SB_OFF, 24);
    IOException e = refused(media.reopen(), EngineOptions.defaults());
    assertTrue(e.getMessage().contains("superblock says 40 segments, but the device holds 31"), e.getMessage());
  }

  @Test
  void brokenTailsAreRefused() throws Exception {
    MemoryMedia media = formatted(false);
    media.memory().asSlice(Layout.CACHE_CTRL_OFF, 32).fill((byte) 0x5A); // both key_tail replicas
    IOException e = refused(media.reopen(), EngineOptions.defaults());
    assertTrue(e.getMessage().contains("no valid replica of key_tail"), e.getMessage());
  }

  @Test
  void lostCacheInfoWithKsetsInTheLogIsRefusedNotReformatted() throws Exception {
    MemoryMedia media = MemoryMedia.allocate("mem:c", MEDIA);
    try (CacheEngine e = CacheEngine.open(media, backing, EngineOptions.defaults(), new TestPolicy(70))) {
      e.writeback().pause();
      e.write(0, MemorySegment.ofArray(new byte[4096]), true);
    }
    media.memory().asSlice(Layout.CACHE_INFO_OFF, 2 * Layout.CACHE_INFO_SIZE).fill((byte) 0);
    IOException e = refused(media.reopen(), EngineOptions.defaults());
    assertTrue(e.getMessage().contains("refusing to reformat"), e.getMessage());
  }

  @Test
  void oneBrokenReplicaIsSurvived() throws Exception {
    MemoryMedia media = formatted(false);
    // Tails were written once (seq 1, slot 1): breaking slot 0 changes nothing, breaking one of
    // the two cache_info slots leaves the other.
    media.memory().asSlice(Layout.CACHE_INFO_OFF + Layout.CACHE_INFO_SIZE, 24).fill((byte) 0x5A);
    try (CacheEngine e = CacheEngine.open(media.reopen(), backing, EngineOptions.defaults(), new TestPolicy(70))) {
      assertEquals(false, e.replayReport().formatted());
    }
  }

  @Test
  void gcPercentIsPersistedInCacheInfo() throws Exception {
    MemoryMedia media = formatted(false);
    try (CacheEngine e = CacheEngine.open(media.reopen(), backing, EngineOptions.defaults(), new TestPolicy(70))) {
      e.setGcPercent(20);
      assertTrue(e.statusLine().startsWith("0 31 31 1 20 "), e.statusLine());
    }
    TestPolicy policy = new TestPolicy(70);
    try (CacheEngine e = CacheEngine.open(media.reopen(), backing, EngineOptions.defaults(), policy)) {
      assertEquals(20, policy.percent, "the persisted value wins over the policy's default");
    }
    TestPolicy explicit = new TestPolicy(55);
    try (CacheEngine e = CacheEngine.open(media.reopen(), backing, EngineOptions.defaults().withGcPercentExplicit(true),
        explicit)) {
      assertTrue(e.statusLine().startsWith("0 31 31 1 55 "), e.statusLine());
    }
    assertThrows(IllegalArgumentException.class, () -> {
      try (CacheEngine e = CacheEngine.open(media.reopen(), backing, EngineOptions.defaults(), new TestPolicy(70))) {
        e.setGcPercent(91);
      }
    });
  }

  private MemoryMedia formatted(boolean dataCrc) throws IOException {
    MemoryMedia media = MemoryMedia.allocate("mem:c", MEDIA);
    CacheFormat.format(media, dataCrc, 70);
    return media;
  }
}
