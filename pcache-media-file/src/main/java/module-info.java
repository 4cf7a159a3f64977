module io.pcache.media.file {
  requires io.pcache.api;
}
