module io.pcache.core {
  requires io.pcache.api;
  uses io.pcache.api.media.MediaProvider;
  uses io.pcache.api.backing.BackingProvider;
  uses io.pcache.api.frontend.FrontendProvider;
  uses io.pcache.api.gc.GcPolicyProvider;
}
