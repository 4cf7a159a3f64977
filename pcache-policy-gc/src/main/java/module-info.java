module io.pcache.policy.gc {
  requires io.pcache.api;
}
