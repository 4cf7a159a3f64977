/** Placeholder until its issue lands: the descriptor and build wiring only. */
module io.pcache.frontend.nbd {
  requires io.pcache.api;
}
