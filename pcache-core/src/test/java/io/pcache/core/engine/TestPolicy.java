package io.pcache.core.engine;

import io.pcache.api.gc.CacheUsage;
import io.pcache.api.gc.GcPolicy;
import java.util.Map;

/** dm-pcache's threshold rule, for engine tests (the real policies are a plugin). */
final class TestPolicy implements GcPolicy {

  volatile int percent;

  TestPolicy(int percent) {
    this.percent = percent;
  }

  @Override
  public int segmentsToReclaim(CacheUsage u) {
    int threshold = u.totalSegments() * percent / 100;
    if (u.usedSegments() >= threshold || u.waitingWrites() > 0) {
      return Math.max(1, u.usedSegments() - threshold + 1);
    }
    return 0;
  }

  @Override
  public Map<String, String> parameters() {
    return Map.of("percent", Integer.toString(percent));
  }

  @Override
  public void setParameter(String key, String value) {
    if (!key.equals("percent")) {
      throw new IllegalArgumentException(key);
    }
    percent = Integer.parseInt(value);
  }
}
