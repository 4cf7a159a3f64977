package io.pcache.api.backing;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * What a backing device <em>is</em>, as opposed to what the user called it: the engine records it
 * on the cache device when a cache is first used with a backing device, and on every later start
 * compares it with the device it is given, so that dirty data cached for one device is never
 * written into another one.
 *
 * <h2>Contract</h2>
 *
 * <ul>
 *   <li><b>Same device, same identity.</b> {@link #kind()} and {@link #id()} together name one
 *       device and stay the same across closes, restarts and reboots as far as the device allows:
 *       a disk by its WWN or serial number, a partition by its disk's id plus its number, an image
 *       file by its file system's device number and inode, a remote image by its image id. Two
 *       different devices must not share them. {@link #sameDevice} compares exactly these two.
 *   <li><b>Size and description are not identity.</b> {@link #size()} is the device's size when
 *       the identity was taken; {@link #description()} is for people (the canonical path, a
 *       model name) and may change while the device stays the same (a file that was moved).
 *   <li><b>Limits.</b> {@code kind} is 1 to 32 characters of {@code [a-z0-9.-]}; {@code id} is 1
 *       to {@value #ID_MAX_BYTES} bytes of UTF-8 without control characters; {@code description}
 *       is any text (the engine stores its first {@value #DESCRIPTION_MAX_BYTES} bytes). The
 *       constructor throws {@link IllegalArgumentException} otherwise.
 * </ul>
 *
 * <p>Kinds used by the bundled plugins: {@code block} (a block device: {@code id} says which
 * stable identifier was found, e.g. {@code wwid:naa.5000c500a1b2c3d4}, {@code
 * by-id:ata-ST4000_Z1Z2-part2} or, without a stable one, {@code devnum:8:16}), {@code file} (a
 * regular file: {@code dev 259:2 ino 1311}), {@code memory} (test devices) and {@link #NAME_KIND}
 * (the default of {@link BackingDevice#identity()}: the device's name, which is all a driver that
 * knows nothing better can offer).
 *
 * @param kind what sort of identifier {@code id} is
 * @param id the identifier, unique within {@code kind}
 * @param size the device's size in bytes, at least 0
 * @param description for messages: the canonical path or what else helps a person find it
 */
public record BackingIdentity(String kind, String id, long size, String description) {

  /** The kind of {@link #ofName} identities. */
  public static final String NAME_KIND = "name";
  /** The longest {@link #id()} in UTF-8 bytes. */
  public static final int ID_MAX_BYTES = 1024;
  /** How much of {@link #description()} (UTF-8 bytes) a cache device stores. */
  public static final int DESCRIPTION_MAX_BYTES = 512;

  public BackingIdentity {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(description, "description");
    if (kind.isEmpty() || kind.length() > 32 || !kind.chars().allMatch(c -> c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-')) {
      throw new IllegalArgumentException("backing identity kind '" + kind + "' is not 1 to 32 characters of [a-z0-9.-]");
    }
    int idBytes = id.getBytes(StandardCharsets.UTF_8).length;
    if (idBytes == 0 || idBytes > ID_MAX_BYTES || id.chars().anyMatch(Character::isISOControl)) {
      throw new IllegalArgumentException("backing identity id '" + id + "' (" + kind + ") is not 1 to " + ID_MAX_BYTES
          + " bytes of UTF-8 without control characters");
    }
    if (size < 0) {
      throw new IllegalArgumentException("backing identity " + kind + " " + id + " has a negative size " + size);
    }
  }

  /** The identity of a device known only by its name: kind {@value #NAME_KIND}, id the name. */
  public static BackingIdentity ofName(String name, long size) {
    return new BackingIdentity(NAME_KIND, name, size, name);
  }

  /** Whether both identities name the same device: same {@link #kind()} and {@link #id()}. */
  public boolean sameDevice(BackingIdentity other) {
    return kind.equals(other.kind) && id.equals(other.id);
  }

  /** For messages: {@code file dev 259:2 ino 1311, 10737418240 bytes, /srv/disk.img}. */
  @Override
  public String toString() {
    return kind + " " + id + ", " + size + " bytes" + (description.isEmpty() || description.equals(id) ? "" : ", " + description);
  }
}
