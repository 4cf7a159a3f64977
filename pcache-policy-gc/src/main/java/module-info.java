/**
 * The GC policies shipped with pcache: {@code threshold} (dm-pcache's {@code gc_percent}) and
 * {@code watermark} (high/low watermarks in the style of bcache and dm-writecache).
 *
 * <p>The implementation package is not exported: the engine reaches the policies only through
 * {@link io.pcache.api.gc.GcPolicyProvider} and {@link java.util.ServiceLoader}.
 */
module io.pcache.policy.gc {
  requires io.pcache.api;

  provides io.pcache.api.gc.GcPolicyProvider with
      io.pcache.policy.gc.ThresholdGcPolicyProvider,
      io.pcache.policy.gc.WatermarkGcPolicyProvider;
}
