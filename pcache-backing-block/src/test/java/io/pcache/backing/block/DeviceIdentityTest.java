package io.pcache.backing.block;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Block device identifiers from a sysfs and {@code /dev/disk/by-id} tree built in a temporary
 * directory the way Linux lays them out ({@code /sys/dev/block/MAJ:MIN} links into {@code
 * /sys/devices/...}, partitions as subdirectories of their disk).
 */
class DeviceIdentityTest {

  @TempDir Path root;
  private Path devices;
  private Path devBlock;
  private Path dev;
  private Path byId;
  private DeviceIdentity identity;

  @BeforeEach
  void tree() throws IOException {
    devices = Files.createDirectories(root.resolve("sys/devices"));
    devBlock = Files.createDirectories(root.resolve("sys/dev/block"));
    dev = Files.createDirectories(root.resolve("dev"));
    byId = Files.createDirectories(root.resolve("dev/disk/by-id"));
    identity = new DeviceIdentity(devBlock, byId);
  }

  /** A device directory linked from {@code /sys/dev/block/MAJ:MIN}, with attributes name=value. */
  private Path device(String relative, FileStat.DevNum num, String... attributes) throws IOException {
    Path d = Files.createDirectories(devices.resolve(relative));
    for (int i = 0; i < attributes.length; i += 2) {
      Path file = d.resolve(attributes[i]);
      Files.createDirectories(file.getParent());
      Files.writeString(file, attributes[i + 1]);
    }
    Files.createSymbolicLink(devBlock.resolve(num.toString()), d);
    return d;
  }

  private String devNode(String name) throws IOException {
    return Files.createFile(dev.resolve(name)).toRealPath().toString();
  }

  private void byId(String link, String node) throws IOException {
    Files.createSymbolicLink(byId.resolve(link), Path.of(node));
  }

  @Test
  void diskByItsWwidAndPartitionByItsDisksWwidAndNumber() throws IOException {
    FileStat.DevNum sda = new FileStat.DevNum(8, 0);
    FileStat.DevNum sda2 = new FileStat.DevNum(8, 2);
    device("pci/host0/block/sda", sda, "device/wwid", "naa.5000c500a1b2c3d4\n", "device/serial", "Z1Z2\n");
    device("pci/host0/block/sda/sda2", sda2, "partition", "2\n");
    assertEquals("wwid:naa.5000c500a1b2c3d4", identity.blockId(sda, devNode("sda")));
    assertEquals("wwid:naa.5000c500a1b2c3d4-part2", identity.blockId(sda2, devNode("sda2")));
  }

  @Test
  void nvmeNamespaceWwidVirtioSerialDmAndMdUuids() throws IOException {
    device("pci/nvme/nvme0/nvme0n1", new FileStat.DevNum(259, 0), "wwid", "eui.0025388b91b3a0c2\n",
        "device/serial", "S4EWNX0R\n");
    device("pci/virtio1/block/vda", new FileStat.DevNum(254, 0), "serial", "  disk  one \n");
    device("virtual/block/dm-0", new FileStat.DevNum(253, 0), "dm/uuid", "LVM-abc\n", "dm/name", "vg-lv\n");
    device("virtual/block/md0", new FileStat.DevNum(9, 0), "md/uuid", "1a2b:3c4d\n");
    assertEquals("wwid:eui.0025388b91b3a0c2", identity.blockId(new FileStat.DevNum(259, 0), devNode("nvme0n1")));
    assertEquals("serial:disk one", identity.blockId(new FileStat.DevNum(254, 0), devNode("vda")));
    assertEquals("dm-uuid:LVM-abc", identity.blockId(new FileStat.DevNum(253, 0), devNode("dm-0")));
    assertEquals("md-uuid:1a2b:3c4d", identity.blockId(new FileStat.DevNum(9, 0), devNode("md0")));
  }

  @Test
  void loopDeviceByItsBackingFile() throws Exception {
    Path image = Files.write(root.resolve("disk.img"), new byte[4096]);
    FileStat file = FileStat.ofPath(image.toString());
    device("virtual/block/loop3", new FileStat.DevNum(7, 3), "loop/backing_file", image + "\n", "loop/offset", "0\n");
    device("virtual/block/loop4", new FileStat.DevNum(7, 4), "loop/backing_file", image + "\n", "loop/offset", "1048576\n");
    device("virtual/block/loop4/loop4p1", new FileStat.DevNum(259, 9), "partition", "1\n");
    String fileId = "dev " + file.dev() + " ino " + file.ino();
    assertEquals("loop:" + fileId, identity.blockId(new FileStat.DevNum(7, 3), devNode("loop3")));
    assertEquals("loop:" + fileId + " offset 1048576", identity.blockId(new FileStat.DevNum(7, 4), devNode("loop4")));
    assertEquals("loop:" + fileId + " offset 1048576-part1", identity.blockId(new FileStat.DevNum(259, 9), devNode("loop4p1")));
  }

  @Test
  void withoutSysfsIdsTheByIdLinkWwnFirstElseTheDeviceNumber() throws IOException {
    device("pci/host1/block/sdb", new FileStat.DevNum(8, 16), "device/wwid", "   \n");
    String sdb = devNode("sdb");
    byId("ata-ST4000DM004_Z1Z2", sdb);
    byId("wwn-0x5000c500a1b2c3d4", sdb);
    byId("ata-Other_Disk", devNode("sdc"));
    byId("dangling", root.resolve("dev/nothing").toString());
    assertEquals("by-id:wwn-0x5000c500a1b2c3d4", identity.blockId(new FileStat.DevNum(8, 16), sdb));
    Files.delete(byId.resolve("wwn-0x5000c500a1b2c3d4"));
    assertEquals("by-id:ata-ST4000DM004_Z1Z2", identity.blockId(new FileStat.DevNum(8, 16), sdb));

    // A partition of a disk without ids, with its own by-id link; a device sysfs does not know.
    device("pci/host1/block/sdb/sdb1", new FileStat.DevNum(8, 17), "partition", "1\n");
    String sdb1 = devNode("sdb1");
    byId("ata-ST4000DM004_Z1Z2-part1", sdb1);
    assertEquals("by-id:ata-ST4000DM004_Z1Z2-part1", identity.blockId(new FileStat.DevNum(8, 17), sdb1));
    assertEquals("devnum:43:0", identity.blockId(new FileStat.DevNum(43, 0), devNode("nbd0")));
  }
}
