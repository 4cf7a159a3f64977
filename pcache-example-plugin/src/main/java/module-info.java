module io.pcache.example {
  requires io.pcache.api;
}
