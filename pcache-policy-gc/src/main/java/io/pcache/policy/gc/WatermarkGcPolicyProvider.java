package io.pcache.policy.gc;

import io.pcache.api.Config;
import io.pcache.api.ConfigKey;
import io.pcache.api.gc.GcPolicy;
import io.pcache.api.gc.GcPolicyProvider;
import java.util.List;

/**
 * The {@code watermark} GC policy: once usage reaches the high watermark, reclaim down to the low
 * one, in the style of bcache and dm-writecache. See {@link WatermarkGcPolicy} for the arithmetic.
 *
 * <p>Configuration: {@value #HIGH_KEY} (default {@value WatermarkGcPolicy#DEFAULT_HIGH}) and
 * {@value #LOW_KEY} (default {@value WatermarkGcPolicy#DEFAULT_LOW}), whole percentages from
 * {@value WatermarkGcPolicy#MIN_PERCENT} to {@value WatermarkGcPolicy#MAX_PERCENT}, low strictly
 * below high. At run time the control socket changes them as parameters {@code high} and {@code
 * low}.
 */
public final class WatermarkGcPolicyProvider implements GcPolicyProvider {

  /** The configuration key of the high watermark in percent. */
  public static final String HIGH_KEY = "gc.watermark.high";
  /** The configuration key of the low watermark in percent. */
  public static final String LOW_KEY = "gc.watermark.low";

  private static final List<ConfigKey> KEYS = List.of(
      ConfigKey.integer(HIGH_KEY, WatermarkGcPolicy.DEFAULT_HIGH, WatermarkGcPolicy.MIN_PERCENT,
          WatermarkGcPolicy.MAX_PERCENT,
          "Start reclaiming cache segments when this percentage of them is in use; must be above "
              + LOW_KEY + "."),
      ConfigKey.integer(LOW_KEY, WatermarkGcPolicy.DEFAULT_LOW, WatermarkGcPolicy.MIN_PERCENT,
          WatermarkGcPolicy.MAX_PERCENT,
          "Once reclaiming, free cache segments until only this percentage of them is in use; must be"
              + " below " + HIGH_KEY + "."));

  @Override
  public String name() {
    return "watermark";
  }

  @Override
  public String description() {
    return "high/low watermarks: at " + WatermarkGcPolicy.DEFAULT_HIGH + "% used reclaim down to "
        + WatermarkGcPolicy.DEFAULT_LOW + "% (bcache/dm-writecache style)";
  }

  @Override
  public List<ConfigKey> configKeys() {
    return KEYS;
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalArgumentException when a watermark lies outside 1..95 or low is not below high;
   *     the message names both keys, their values and where they came from
   */
  @Override
  public GcPolicy create(Config config) {
    int high = Percent.fromConfig(config, HIGH_KEY, WatermarkGcPolicy.MIN_PERCENT, WatermarkGcPolicy.MAX_PERCENT);
    int low = Percent.fromConfig(config, LOW_KEY, WatermarkGcPolicy.MIN_PERCENT, WatermarkGcPolicy.MAX_PERCENT);
    if (low >= high) {
      throw new IllegalArgumentException(LOW_KEY + " = " + low + " (from " + config.sourceOf(LOW_KEY)
          + ") must be below " + HIGH_KEY + " = " + high + " (from " + config.sourceOf(HIGH_KEY) + ")");
    }
    return new WatermarkGcPolicy(high, low);
  }
}
