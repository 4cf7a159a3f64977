/** Placeholder until its issue lands: the descriptor and build wiring only. */
module io.pcache.media.dax {
  requires io.pcache.api;
}
