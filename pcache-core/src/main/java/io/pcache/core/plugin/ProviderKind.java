package io.pcache.core.plugin;

import io.pcache.api.Provider;
import io.pcache.api.backing.BackingProvider;
import io.pcache.api.frontend.FrontendProvider;
import io.pcache.api.gc.GcPolicyProvider;
import io.pcache.api.media.MediaProvider;

/** The kinds of provider pcache loads, with the service interface and the word users see. */
public enum ProviderKind {
  MEDIA(MediaProvider.class, "media"),
  BACKING(BackingProvider.class, "backing"),
  FRONTEND(FrontendProvider.class, "frontend"),
  GC_POLICY(GcPolicyProvider.class, "gc-policy");

  private final Class<? extends Provider> service;
  private final String label;

  ProviderKind(Class<? extends Provider> service, String label) {
    this.service = service;
    this.label = label;
  }

  public Class<? extends Provider> service() {
    return service;
  }

  /** The word users see: {@code media}, {@code backing}, {@code frontend}, {@code gc-policy}. */
  public String label() {
    return label;
  }
}
