package io.pcache.media.dax;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.media.dax.DaxFileSystems.State;
import io.pcache.media.dax.DaxFileSystems.Verdict;
import io.pcache.media.dax.Mounts.Mount;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The mount table parser and the per-file-system DAX verdicts, on fixed text and a fake sysfs. */
class MountsTest {

  /** A mountinfo as the 6.1 guest of the VM harness shows it, plus odd cases. */
  static final String MOUNTINFO = String.join("\n",
      "21 1 254:0 / / ro,relatime - ext4 /dev/vda rw,errors=remount-ro",
      "22 21 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw",
      "25 24 0:23 / /dev/shm rw,nosuid,nodev - tmpfs tmpfs rw,size=1024k",
      "30 21 259:0 / /mnt/pmem rw,relatime - ext4 /dev/pmem0 rw,dax=always",
      "31 21 259:1 / /mnt/pmem1 rw,relatime shared:5 - xfs /dev/pmem1 rw,attr2,dax,inode64",
      "32 21 259:2 / /mnt/never rw,relatime - ext4 /dev/pmem2 rw,dax=never",
      "33 21 259:3 / /mnt/inode rw,relatime - ext4 /dev/pmem3 rw",
      "34 21 259:4 / /mnt/btr rw,relatime - btrfs /dev/pmem4 rw",
      "35 21 0:40 / /mnt/with\\040blank rw - overlay overlay rw,lowerdir=/a",
      "36 21 254:1 / /data rw - ext4 /dev/vda1 rw",
      "garbage line without separator",
      "37 25 0:23 / /dev/shm rw - ramfs ramfs rw",
      "");

  @TempDir Path dir;

  @Test
  void parsesFieldsOptionsAndEscapes() {
    Mounts m = Mounts.parse(MOUNTINFO);
    assertEquals(11, m.entries().size(), "the malformed line is skipped");
    Mount pmem = m.entries().get(3);
    assertEquals("259:0", pmem.device());
    assertEquals("/mnt/pmem", pmem.mountPoint());
    assertEquals("ext4", pmem.fsType());
    assertEquals("/dev/pmem0", pmem.source());
    assertTrue(pmem.has("dax=always") && pmem.has("relatime"), "mount and superblock options: " + pmem.options());
    assertEquals("/mnt/with blank", m.entries().get(8).mountPoint());
    assertEquals("a\\b c", Mounts.unescape("a\\134b\\040c"));
    assertEquals("\\09x", Mounts.unescape("\\09x"), "not an octal escape");
  }

  @Test
  void findsTheLongestMountPointAndTheLastOfEqualOnes() {
    Mounts m = Mounts.parse(MOUNTINFO);
    assertEquals("/mnt/pmem", m.find(Path.of("/mnt/pmem/a/cache.img")).orElseThrow().mountPoint());
    assertEquals("/", m.find(Path.of("/mnt/pmemx/cache.img")).orElseThrow().mountPoint(), "not a path prefix");
    assertEquals("ramfs", m.find(Path.of("/dev/shm/x")).orElseThrow().fsType(), "the later mount hides the earlier");
    assertEquals("/", m.find(Path.of("/")).orElseThrow().mountPoint());
    assertTrue(Mounts.parse("").find(Path.of("/x")).isEmpty());
  }

  @Test
  void daxMountsAreThoseWithDaxOrDaxAlways() {
    List<String> points = Mounts.parse(MOUNTINFO).daxMounts().stream().map(Mount::mountPoint).toList();
    assertEquals(List.of("/mnt/pmem", "/mnt/pmem1"), points);
  }

  @Test
  void verdictsFollowTypeOptionsAndDevice() throws IOException {
    Sysfs sysfs = new FakeSysfs(dir)
        .disk("254:0", "vda", false).partition("254:1", "vda", "vda1")
        .disk("259:2", "pmem2", true).disk("259:3", "pmem3", true).disk("259:4", "pmem4", true)
        .sysfs();
    Mounts m = Mounts.parse(MOUNTINFO);
    Verdict always = verdict(m, sysfs, "/mnt/pmem/c.img");
    assertEquals(State.ALWAYS, always.state());
    assertEquals(State.ALWAYS, verdict(m, sysfs, "/mnt/pmem1/c.img").state(), "plain dax option");

    Verdict tmpfs = DaxFileSystems.of(Mounts.parse(MOUNTINFO.replace("ramfs ramfs", "tmpfs tmpfs"))
        .find(Path.of("/dev/shm/c.img")).orElseThrow(), sysfs);
    assertEquals(State.NONE, tmpfs.state());
    assertEquals("tmpfs, which has no DAX: MAP_SYNC is not supported (EOPNOTSUPP)", tmpfs.why());
    assertEquals("", tmpfs.fix());

    Verdict never = verdict(m, sysfs, "/mnt/never/c.img");
    assertEquals(State.NONE, never.state());
    assertTrue(never.why().contains("dax=never") && never.fix().contains("-o dax"), never.toString());

    assertEquals(State.PER_FILE, verdict(m, sysfs, "/mnt/inode/c.img").state(), "ext4 on pmem without option");

    Verdict btrfs = verdict(m, sysfs, "/mnt/btr/c.img");
    assertEquals(State.NONE, btrfs.state());
    assertTrue(btrfs.why().contains("btrfs has no DAX support"), btrfs.why());

    Verdict root = verdict(m, sysfs, "/var/lib/pcache/c.img");
    assertEquals(State.NONE, root.state());
    assertEquals("ext4 (/dev/vda at /), a page-cache file system: its device vda cannot do DAX ("
        + dir.resolve("dev/block/254:0/queue/dax") + " is 0), so MAP_SYNC is not supported (EOPNOTSUPP)",
        root.why());
    assertTrue(root.fix().contains("mount -o dax /dev/pmem0"), root.fix());

    Verdict partition = verdict(m, sysfs, "/data/c.img");
    assertEquals(State.NONE, partition.state());
    assertTrue(partition.why().contains("its device vda1 cannot do DAX"), "a partition's queue is its disk's: "
        + partition.why());

    Verdict overlay = verdict(m, sysfs, "/mnt/with blank/c.img");
    assertEquals(State.NONE, overlay.state());
    assertTrue(overlay.why().startsWith("overlay (overlay at /mnt/with blank), which has no DAX"), overlay.why());

    Verdict unknown = DaxFileSystems.of(null, sysfs);
    assertEquals(State.NONE, unknown.state());
    assertFalse(unknown.why().isBlank());
  }

  private static Verdict verdict(Mounts m, Sysfs sysfs, String path) {
    return DaxFileSystems.of(m.find(Path.of(path)).orElseThrow(), sysfs);
  }

  @Test
  void theLiveTableIsReadWhole() {
    Mounts live = Mounts.current();
    assertTrue(live.find(Path.of("/")).isPresent(), "the live table has a root mount: " + live.entries());
    assertTrue(live.entries().size() > 1, "more than one line was read (proc files report size 0)");
  }

  @Test
  void sysfsReadsDevDaxSizeAndAlignment() throws IOException {
    FakeSysfs fake = new FakeSysfs(dir)
        .devDax("252:0", "dax0.0", 1L << 30, 1L << 21)
        .devDax("252:1", "dax1.0", 64L << 20, 0)
        .charDevice("1:3", "null", "mem");
    Sysfs sysfs = fake.sysfs();
    Sysfs.DevDax d = sysfs.devDax("252:0").orElseThrow();
    assertEquals("dax0.0", d.name());
    assertEquals(1L << 30, d.size());
    assertEquals(1L << 21, d.align());
    assertTrue(d.alignReported());
    Sysfs.DevDax old = sysfs.devDax("252:1").orElseThrow();
    assertEquals(Sysfs.DEFAULT_DEVDAX_ALIGN, old.align(), "no align attribute before Linux 5.10");
    assertFalse(old.alignReported());
    assertTrue(sysfs.devDax("1:3").isEmpty(), "/dev/null is not a devdax device");
    assertEquals("mem", sysfs.charDeviceSubsystem("1:3"));
    assertTrue(sysfs.devDax("9:9").isEmpty(), "no such device");
    assertEquals(List.of("dax0.0", "dax1.0"), sysfs.devDaxDevices().stream().map(Sysfs.DevDax::name).toList());
  }

  @Test
  void majorMinorDecodesGlibcDevT() {
    assertEquals("1:3", Sysfs.majorMinor(0x0103));
    assertEquals("259:0", Sysfs.majorMinor((259L << 8)));
    assertEquals("252:0", Sysfs.majorMinor(0xfc00));
    long big = ((4095L & 0xfff) << 8) | ((0x1234L & ~0xfffL) << 32) | (300 & 0xff) | ((300L & ~0xffL) << 12);
    assertEquals((0x1234L & ~0xfffL | 4095L) + ":300", Sysfs.majorMinor(big));
  }
}
