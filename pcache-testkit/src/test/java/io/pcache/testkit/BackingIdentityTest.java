package io.pcache.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.backing.BackingIdentity;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** The identity record's rules, and the memory devices' identities. */
class BackingIdentityTest {

  @Test
  void sameDeviceComparesKindAndIdOnly() {
    BackingIdentity a = new BackingIdentity("file", "dev 8:1 ino 12", 4096, "/srv/a.img");
    assertTrue(a.sameDevice(new BackingIdentity("file", "dev 8:1 ino 12", 8192, "/srv/moved.img")));
    assertFalse(a.sameDevice(new BackingIdentity("file", "dev 8:1 ino 13", 4096, "/srv/a.img")));
    assertFalse(a.sameDevice(new BackingIdentity("block", "dev 8:1 ino 12", 4096, "/srv/a.img")));
    assertEquals("file dev 8:1 ino 12, 4096 bytes, /srv/a.img", a.toString());
  }

  @Test
  void limitsAreEnforced() {
    assertThrows(IllegalArgumentException.class, () -> new BackingIdentity("", "x", 0, ""));
    assertThrows(IllegalArgumentException.class, () -> new BackingIdentity("File", "x", 0, ""));
    assertThrows(IllegalArgumentException.class, () -> new BackingIdentity("file", "", 0, ""));
    assertThrows(IllegalArgumentException.class, () -> new BackingIdentity("file", "a\nb", 0, ""));
    assertThrows(IllegalArgumentException.class, () -> new BackingIdentity("file", "x".repeat(BackingIdentity.ID_MAX_BYTES + 1), 0, ""));
    assertThrows(IllegalArgumentException.class, () -> new BackingIdentity("file", "x", -1, ""));
    new BackingIdentity("a.b-9", "é".repeat(BackingIdentity.ID_MAX_BYTES / 2), 0, "");
  }

  @Test
  void memoryDevicesAreIdentifiedByTheirMemory() {
    MemorySegment memory = Arena.ofAuto().allocate(1 << 20, 4096);
    MemoryBacking one = new MemoryBacking("mem:one", memory);
    assertTrue(one.identity().sameDevice(new MemoryBacking("mem:renamed", memory).identity()));
    assertFalse(one.identity().sameDevice(MemoryBacking.allocate("mem:one", 1 << 20).identity()));
    assertEquals(1 << 20, one.identity().size());
    byte[] heap = new byte[4096];
    BackingIdentity h = new MemoryBacking("mem:heap", MemorySegment.ofArray(heap)).identity();
    assertTrue(h.sameDevice(new MemoryBacking("mem:heap2", MemorySegment.ofArray(heap)).identity()));
    assertFalse(h.sameDevice(new MemoryBacking("mem:heap", MemorySegment.ofArray(new byte[4096])).identity()));
    CrashingBacking crashing = CrashingBacking.allocate("crash:b", 1 << 20);
    assertTrue(crashing.identity().sameDevice(crashing.reopen().identity()));
  }
}
