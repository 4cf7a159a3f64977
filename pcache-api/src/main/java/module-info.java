/**
 * The pcache service-provider interfaces.
 *
 * <p>A plugin implements one or more of the provider interfaces below and declares them with
 * {@code provides} in its own {@code module-info.java}; it needs nothing but this module, which
 * itself depends on {@code java.base} only.
 *
 * <ul>
 *   <li>{@link io.pcache.api.media.MediaProvider} opens {@link io.pcache.api.media.CacheMedia}:
 *       the byte-addressable persistent memory that holds the cache.
 *   <li>{@link io.pcache.api.backing.BackingProvider} opens {@link
 *       io.pcache.api.backing.BackingDevice}: the slow device whose content is cached.
 *   <li>{@link io.pcache.api.frontend.FrontendProvider} creates {@link
 *       io.pcache.api.frontend.Frontend}s that serve a {@link io.pcache.api.BlockDevice} to users.
 *   <li>{@link io.pcache.api.gc.GcPolicyProvider} creates {@link io.pcache.api.gc.GcPolicy}s that
 *       decide when and how much of the cache to reclaim.
 * </ul>
 */
module io.pcache.api {
  exports io.pcache.api;
  exports io.pcache.api.media;
  exports io.pcache.api.backing;
  exports io.pcache.api.frontend;
  exports io.pcache.api.gc;
}
