module io.pcache.backing.block {
  requires io.pcache.api;
}
