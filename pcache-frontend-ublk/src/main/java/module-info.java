/**
 * The ublk front-end: serves the cached {@link io.pcache.api.BlockDevice} as the Linux block device
 * {@code /dev/ublkbN} through the ublk driver, talking to the kernel over io_uring.
 *
 * <p>{@code io.pcache.frontend.ublk.uring} is a small io_uring binding without ublk specifics;
 * {@code io.pcache.frontend.ublk.internal} holds only the JNR-FFI libc interface and is exported
 * because jnr-ffi generates its implementation in an unnamed module. The launcher must grant
 * native access to this module and to {@code org.jnrproject.jffi} (the rings are mapped memory
 * reached through {@code MemorySegment.reinterpret}).
 */
module io.pcache.frontend.ublk {
  requires io.pcache.api;
  requires org.jnrproject.ffi;
  // jnr-ffi generates its bindings with ASM but, as an automatic module, cannot require it: without
  // this line a launch without --add-modules (and any plugin layer) fails with
  // NoClassDefFoundError: org/objectweb/asm/ClassVisitor. Not used directly.
  requires org.objectweb.asm;

  exports io.pcache.frontend.ublk.internal;

  provides io.pcache.api.frontend.FrontendProvider with
      io.pcache.frontend.ublk.UblkFrontendProvider;
}
