package io.pcache.testkit;

import io.pcache.api.backing.BackingDevice;
import java.nio.file.Path;
import java.util.Set;

/** The backing conformance suite passes on the flawless reference device. */
class HeapBackingDeviceConformanceTest extends BackingDeviceConformance {

  @Override
  protected BackingDevice open(Path dir, long size) throws java.io.IOException {
    return HeapBackingDevice.open(dir, size, false, Set.of());
  }

  @Override
  protected BackingDevice openReadOnly(Path dir) throws java.io.IOException {
    return HeapBackingDevice.open(dir, deviceSize(), true, Set.of());
  }

  @Override
  protected void cleanUp(Path dir) {
    HeapBackingDevice.forget(dir);
  }

  @Override
  protected void resize(Path dir, long bytes) {
    HeapBackingDevice.resize(dir, bytes);
  }
}
