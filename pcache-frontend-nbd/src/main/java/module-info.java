/**
 * The NBD front-end: serves the cached {@link io.pcache.api.BlockDevice} over the Network Block
 * Device protocol, on TCP and Unix sockets, optionally with TLS.
 *
 * <p>The implementation package is not exported: the engine reaches the server only through
 * {@link io.pcache.api.frontend.FrontendProvider} and {@link java.util.ServiceLoader}.
 */
module io.pcache.frontend.nbd {
  requires io.pcache.api;

  provides io.pcache.api.frontend.FrontendProvider with
      io.pcache.frontend.nbd.NbdFrontendProvider;
}
