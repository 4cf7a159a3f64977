/** Placeholder until its issue lands: the descriptor and build wiring only. */
module io.pcache.frontend.ublk {
  requires io.pcache.api;
}
