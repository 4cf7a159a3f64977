/**
 * An example pcache plugin, written the way a third party would write one: it needs nothing but
 * {@code io.pcache.api}. It provides the {@code mem} media scheme, volatile cache media in
 * anonymous native memory ({@code mem:1G}, or {@code mem:NAME:1G} to keep the memory for the
 * life of the JVM).
 *
 * <p>Its implementation package is not exported; pcache finds the provider only through the
 * {@code provides} clause below.
 */
module io.pcache.example {
  requires io.pcache.api;

  provides io.pcache.api.media.MediaProvider with
      io.pcache.example.MemMediaProvider;
}
