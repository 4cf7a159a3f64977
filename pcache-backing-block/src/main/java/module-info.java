/**
 * Backing devices on Linux block devices ({@code /dev/sdb}, {@code /dev/loop0}) and regular image
 * files, read and written with {@code pread}/{@code pwrite} through JNR-FFI.
 *
 * <p>The launcher should pass {@code --enable-native-access=org.jnrproject.jffi} (without it, JDK
 * 25 prints a warning on first use; a later JDK will refuse).
 */
module io.pcache.backing.block {
  requires io.pcache.api;
  requires org.jnrproject.ffi;
  // jnr-ffi generates its bindings with ASM, but as an automatic module it cannot require it: without
  // this line, a launch without --add-modules (and any plugin layer) fails with
  // NoClassDefFoundError: org/objectweb/asm/ClassVisitor. Not used directly.
  requires org.objectweb.asm;

  // jnr-ffi generates the LibC implementation in an unnamed module, which must be able to see
  // the interface: this package is exported to everyone and holds nothing but that interface.
  exports io.pcache.backing.block.internal;

  provides io.pcache.api.backing.BackingProvider with
      io.pcache.backing.block.BlockBackingProvider;
}
