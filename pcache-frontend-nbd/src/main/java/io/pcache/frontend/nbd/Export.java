package io.pcache.frontend.nbd;

import io.pcache.api.BlockDevice;
import io.pcache.api.BlockDevice.Feature;
import java.util.Objects;
import java.util.Set;

/**
 * One export: a name clients ask for, the device behind it, and what is advertised for it.
 *
 * <p>Transmission flags advertise exactly what the server honours: flush, FUA, trim, write-zeroes
 * (with fast zero) and cache follow the device's {@link BlockDevice#features()}; CAN_MULTI_CONN is
 * always set, because every connection serves the same device object, whose {@code flush} covers
 * every write that completed before it, whichever connection it came through; SEND_DF is set when
 * structured replies are in use (a read is always answered with one data chunk, so "don't
 * fragment" holds by construction). A read-only export sets READ_ONLY and drops the write-side
 * flags.
 *
 * @param name the name clients select it by; the first export is also the default export (empty name)
 * @param description a line for humans, sent with NBD_OPT_LIST and NBD_INFO_DESCRIPTION; may be empty
 * @param device the device served
 * @param readOnly whether writes, trims and write-zeroes fail with EPERM
 */
record Export(String name, String description, BlockDevice device, boolean readOnly) {

  Export {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(description, "description");
    Objects.requireNonNull(device, "device");
  }

  /** The 16 transmission flags for a connection that has (or has not) negotiated structured replies. */
  int transmissionFlags(boolean structured) {
    Set<Feature> f = device.features();
    int flags = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_CAN_MULTI_CONN;
    if (f.contains(Feature.FLUSH)) {
      flags |= Nbd.FLAG_SEND_FLUSH;
    }
    if (f.contains(Feature.PREFETCH)) {
      flags |= Nbd.FLAG_SEND_CACHE;
    }
    if (structured) {
      flags |= Nbd.FLAG_SEND_DF;
    }
    if (readOnly) {
      return flags | Nbd.FLAG_READ_ONLY;
    }
    if (f.contains(Feature.FUA)) {
      flags |= Nbd.FLAG_SEND_FUA;
    }
    if (f.contains(Feature.DISCARD)) {
      flags |= Nbd.FLAG_SEND_TRIM;
    }
    if (f.contains(Feature.WRITE_ZEROES)) {
      flags |= Nbd.FLAG_SEND_WRITE_ZEROES | Nbd.FLAG_SEND_FAST_ZERO;
    }
    return flags;
  }
}
