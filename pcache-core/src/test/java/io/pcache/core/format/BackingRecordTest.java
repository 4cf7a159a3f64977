package io.pcache.core.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.backing.BackingIdentity;
import io.pcache.core.engine.CacheFormat;
import io.pcache.testkit.MemoryMedia;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** The backing record's encoding, replicas and the bytes it may touch. */
class BackingRecordTest {

  static final BackingIdentity A = new BackingIdentity("file", "dev 8:1 ino 12", 1L << 30, "/srv/a.img");
  static final BackingIdentity B = new BackingIdentity("block", "wwid:naa.5000c500a1b2c3d4-part2", 1L << 40, "/dev/sdb2");

  final MemoryMedia media = MemoryMedia.allocate("mem:rec", 512L << 20);

  private static byte[] bytes(MemoryMedia m, long off, long len) {
    return m.memory().asSlice(off, len).toArray(ValueLayout.JAVA_BYTE);
  }

  @Test
  void formatLeavesTheAreaAloneAndTheRecordStaysInIt() throws IOException {
    CacheFormat.format(media, false, 70);
    assertEquals(BackingRecord.Status.ABSENT, BackingRecord.load(media).status());
    assertArrayEquals(new byte[4096], bytes(media, 0, 4096), "a format writes nothing below the superblock");
    byte[] rest = bytes(media, 4096, 64L << 20);
    BackingRecord.write(media, BackingRecord.load(media), A, 1234);
    assertArrayEquals(rest, bytes(media, 4096, 64L << 20), "the record writes nothing at or after the superblock");
    assertEquals(CacheFormat.State.PCACHE, CacheFormat.inspect(media));
  }

  @Test
  void roundTripsWithBothReplicasAndRisingSeq() throws IOException {
    BackingRecord.write(media, BackingRecord.load(media), A, 1234);
    BackingRecord.Found first = BackingRecord.load(media);
    assertEquals(BackingRecord.Status.VALID, first.status());
    assertEquals(A, first.stored().identity());
    assertEquals(1234, first.stored().recordedMillis());
    assertEquals(2, first.stored().seq());
    assertEquals(BackingRecord.MAGIC, media.memory().get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8));
    assertEquals("PCBKID01", new String(bytes(media, 8, 8), java.nio.charset.StandardCharsets.US_ASCII));
    assertArrayEquals(bytes(media, 8, BackingRecord.SLOT_SIZE - 8), bytes(media, BackingRecord.SLOT_SIZE + 8, BackingRecord.SLOT_SIZE - 8),
        "both replicas hold the same record (seq aside)");

    BackingRecord.write(media, first, B, 5678);
    BackingRecord.Found second = BackingRecord.load(media);
    assertEquals(B, second.stored().identity());
    assertEquals(4, second.stored().seq());
  }

  @Test
  void aLongDescriptionIsCutBetweenCharacters() throws IOException {
    String description = "/srv/" + "é".repeat(400);
    BackingRecord.write(media, BackingRecord.load(media), new BackingIdentity("file", "x", 1, description), 0);
    String stored = BackingRecord.load(media).stored().identity().description();
    assertTrue(description.startsWith(stored) && stored.length() < description.length(), stored);
    assertTrue(stored.getBytes(java.nio.charset.StandardCharsets.UTF_8).length <= BackingIdentity.DESCRIPTION_MAX_BYTES);
  }

  @Test
  void aReplicaWithoutMagicIsAbsentAndADamagedOneIsCorrupt() throws IOException {
    // A replica whose update was cut before its magic: no magic, anything else.
    media.memory().asSlice(BackingRecord.SLOT_SIZE + 16, 100).fill((byte) 0x77);
    assertEquals(BackingRecord.Status.ABSENT, BackingRecord.load(media).status());

    BackingRecord.write(media, BackingRecord.load(media), A, 1);
    BackingRecord.write(media, BackingRecord.load(media), B, 2);
    media.memory().set(ValueLayout.JAVA_BYTE, 200, (byte) 1);
    BackingRecord.Found one = BackingRecord.load(media);
    assertEquals(BackingRecord.Status.VALID, one.status());
    assertEquals(B, one.stored().identity(), "the other replica holds the latest record too");
    assertEquals(1, one.problems().size(), one.problems().toString());
    assertTrue(one.problems().get(0).contains("offset 0"), one.problems().toString());

    media.memory().set(ValueLayout.JAVA_BYTE, BackingRecord.SLOT_SIZE + 200, (byte) 1);
    BackingRecord.Found none = BackingRecord.load(media);
    assertEquals(BackingRecord.Status.CORRUPT, none.status());
    assertNull(none.stored());
    assertTrue(BackingRecord.describe(none).contains("corrupt"), BackingRecord.describe(none));
  }

  @Test
  void aNewerVersionIsReportedAsSuch() throws IOException {
    BackingRecord.write(media, BackingRecord.load(media), A, 1);
    media.memory().set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 16, (short) 2);
    media.memory().set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0,
        Meta.crc(media.memory(), 0, BackingRecord.SLOT_SIZE));
    BackingRecord.Found found = BackingRecord.load(media);
    assertEquals(BackingRecord.Status.TOO_NEW, found.status());
    assertTrue(found.problems().get(0).contains("version 2, written by a newer pcache"), found.problems().toString());
  }
}
