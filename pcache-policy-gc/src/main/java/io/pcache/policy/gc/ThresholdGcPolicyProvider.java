package io.pcache.policy.gc;

import io.pcache.api.Config;
import io.pcache.api.ConfigKey;
import io.pcache.api.gc.GcPolicy;
import io.pcache.api.gc.GcPolicyProvider;
import java.util.List;

/**
 * The {@code threshold} GC policy: dm-pcache's own {@code gc_percent} rule. See {@link
 * ThresholdGcPolicy} for the arithmetic.
 *
 * <p>Configuration: {@value #PERCENT_KEY}, a whole number from {@value ThresholdGcPolicy#MIN_PERCENT}
 * to {@value ThresholdGcPolicy#MAX_PERCENT}, default {@value ThresholdGcPolicy#DEFAULT_PERCENT}
 * (dm-pcache's {@code PCACHE_CACHE_GC_PERCENT_MIN/MAX/DEFAULT}). At run time the control socket
 * changes it as parameter {@code percent}, like dm-pcache's {@code gc_percent <N>} message.
 */
public final class ThresholdGcPolicyProvider implements GcPolicyProvider {

  /** The configuration key of the start threshold in percent. */
  public static final String PERCENT_KEY = "gc.threshold.percent";

  private static final List<ConfigKey> KEYS = List.of(ConfigKey.integer(PERCENT_KEY,
      ThresholdGcPolicy.DEFAULT_PERCENT, ThresholdGcPolicy.MIN_PERCENT, ThresholdGcPolicy.MAX_PERCENT,
      "Reclaim cache segments while at least this percentage of them is in use (dm-pcache gc_percent);"
          + " 0 reclaims everything already written back."));

  @Override
  public String name() {
    return "threshold";
  }

  @Override
  public String description() {
    return "dm-pcache's gc_percent: reclaim oldest segments while usage is at or above N% (default "
        + ThresholdGcPolicy.DEFAULT_PERCENT + ")";
  }

  @Override
  public List<ConfigKey> configKeys() {
    return KEYS;
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalArgumentException when {@value #PERCENT_KEY} lies outside 0..90
   */
  @Override
  public GcPolicy create(Config config) {
    return new ThresholdGcPolicy(Percent.fromConfig(config, PERCENT_KEY,
        ThresholdGcPolicy.MIN_PERCENT, ThresholdGcPolicy.MAX_PERCENT));
  }
}
