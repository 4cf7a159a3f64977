package io.pcache.core.control;

import io.pcache.api.ConfigKey;
import io.pcache.api.gc.GcPolicy;
import io.pcache.core.config.CoreKeys;
import io.pcache.core.config.Suggestions;
import io.pcache.core.config.Values;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.engine.Writeback;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * What a running cache lets users change, by name:
 *
 * <ul>
 *   <li>{@code gc_percent} (0..90): dm-pcache's own run-time setting (its {@code gc_percent}
 *       message), for the {@code threshold} GC policy; persisted in cache_info exactly where
 *       dm-pcache keeps it, so it survives a restart. {@code gc.threshold.percent}, the
 *       configuration key, is accepted for it too.
 *   <li>{@code writeback.rate} (bytes per second, {@code 0} for no limit; {@code 100M} or {@code
 *       100M/s}): bcache's {@code writeback_rate}.
 *   <li>{@code writeback.dirty-percent} (0..90): how much of the cache may stay dirty while writes
 *       keep coming (bcache's {@code writeback_percent}); 0 writes back at once.
 *   <li>{@code cache.kset-flush-delay} (0 to 1 h): how long an open kset may hold keys; dm-pcache
 *       has a fixed 1 s, dm-writecache users know it as {@code autocommit_time}.
 *   <li>the GC policy's own parameters as {@code gc.POLICY.PARAMETER}, the names of its
 *       configuration keys ({@code gc.watermark.high}, {@code gc.watermark.low}); the policy
 *       checks the value ({@link GcPolicy#setParameter}).
 * </ul>
 *
 * Writeback pause and resume (bcache's {@code writeback_running}) are commands of their own.
 * Only {@code gc_percent} is persisted, as in dm-pcache; the others return to their configured
 * values at the next start (put them in {@code conf/pcache.properties} to keep them).
 *
 * <p>A bad key or value throws {@link IllegalArgumentException} naming the key, the value and the
 * valid range or closest key, and changes nothing. Changes are serialized by this object's lock
 * (the control plane only; the I/O path never takes it).
 */
public final class Tunables {

  /** dm-pcache's name for the threshold policy's percentage. */
  public static final String GC_PERCENT = "gc_percent";
  public static final String WRITEBACK_RATE = CoreKeys.WRITEBACK_RATE;
  public static final String WRITEBACK_DIRTY_PERCENT = CoreKeys.WRITEBACK_DIRTY_PERCENT;
  public static final String KSET_FLUSH_DELAY = CoreKeys.KSET_FLUSH_DELAY;

  static final long MAX_RATE = 1L << 40;
  static final Duration MAX_FLUSH_DELAY = Duration.ofHours(1);

  private static final String PERCENT = "percent";

  private final CacheEngine engine;
  private final String policyName;
  private final Function<String, Optional<ConfigKey>> configKeys;

  /** One line of {@code show}. */
  public record Entry(String key, String value, String range, String note) {}

  /**
   * @param policyName the GC policy's name ({@code threshold}, {@code watermark}, a plugin's)
   * @param configKeys the configuration keys by name, for the ranges of policy parameters
   */
  public Tunables(CacheEngine engine, String policyName, Function<String, Optional<ConfigKey>> configKeys) {
    this.engine = engine;
    this.policyName = policyName;
    this.configKeys = configKeys;
  }

  /** The GC policy's name. */
  public String policyName() {
    return policyName;
  }

  private GcPolicy policy() {
    return engine.gcPolicy();
  }

  private boolean hasPercent() {
    return policy().parameters().containsKey(PERCENT);
  }

  private String policyKey(String parameter) {
    return "gc." + policyName + "." + parameter;
  }

  /** The policy's parameters other than {@code percent}, by their tunable key. */
  private Map<String, String> policyKeys() {
    Map<String, String> m = new LinkedHashMap<>();
    policy().parameters().keySet().stream().filter(p -> !(p.equals(PERCENT) && hasPercent())).sorted()
        .forEach(p -> m.put(policyKey(p), p));
    return m;
  }

  /** Every tunable key, in {@code show} order. */
  public synchronized List<String> keys() {
    List<String> keys = new ArrayList<>();
    if (hasPercent()) {
      keys.add(GC_PERCENT);
    }
    keys.addAll(policyKeys().keySet());
    keys.add(WRITEBACK_RATE);
    keys.add(WRITEBACK_DIRTY_PERCENT);
    keys.add(KSET_FLUSH_DELAY);
    return keys;
  }

  /** Every tunable with its current value and range. */
  public synchronized List<Entry> show() {
    List<Entry> entries = new ArrayList<>();
    Map<String, String> params = policy().parameters();
    if (hasPercent()) {
      entries.add(new Entry(GC_PERCENT, params.get(PERCENT), "0..90",
          "GC policy " + policyName + "; persisted in cache_info (as dm-pcache)"));
    }
    for (Map.Entry<String, String> e : policyKeys().entrySet()) {
      String range = configKeys.apply(e.getKey()).filter(k -> k.type() == ConfigKey.Type.INT)
          .map(k -> k.min() + ".." + k.max()).orElse("checked by the policy");
      entries.add(new Entry(e.getKey(), params.get(e.getValue()), range, "GC policy " + policyName + "; until restart"));
    }
    long rate = engine.writeback().rate();
    entries.add(new Entry(WRITEBACK_RATE, rate == 0 ? "0" : Values.human(rate), "0 (no limit) or up to 1T per second",
        "until restart"));
    entries.add(new Entry(WRITEBACK_DIRTY_PERCENT, Integer.toString(engine.writeback().dirtyPercent()),
        "0.." + Writeback.MAX_DIRTY_PERCENT, "0 writes back at once; until restart"));
    entries.add(new Entry(KSET_FLUSH_DELAY, duration(engine.ksetFlushDelay()), "0ms..1h", "until restart"));
    return entries;
  }

  /**
   * Sets one tunable.
   *
   * @return the value now in force, as {@code show} prints it
   * @throws IllegalArgumentException for an unknown key or a bad value: nothing changed
   * @throws IOException when persisting {@code gc_percent} failed
   */
  public synchronized String set(String key, String value) throws IOException {
    String v = value.strip();
    if (key.equals(GC_PERCENT) || key.equals("gc.threshold.percent")) {
      if (!hasPercent()) {
        throw new IllegalArgumentException("unknown key '" + key + "' = '" + value + "': " + GC_PERCENT
            + " belongs to the threshold GC policy; this cache runs '" + policyName + "' (keys: "
            + String.join(", ", keys()) + ")");
      }
      int percent = percent(GC_PERCENT, value, 90, Integer.parseInt(policy().parameters().get(PERCENT)));
      engine.setGcPercent(percent);
      return Integer.toString(percent);
    }
    if (key.equals(WRITEBACK_RATE)) {
      String text = v.endsWith("/s") ? v.substring(0, v.length() - 2) : v;
      long current = engine.writeback().rate();
      long rate;
      try {
        rate = Values.parseSize(text);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(WRITEBACK_RATE + " = '" + value + "': " + e.getMessage() + "; 0 for no limit"
            + " (keeping " + Values.human(current) + ")");
      }
      if (rate > MAX_RATE) {
        throw new IllegalArgumentException(WRITEBACK_RATE + " = '" + value + "' is out of range 0..1T per second (keeping "
            + Values.human(current) + ")");
      }
      engine.writeback().setRate(rate);
      return rate == 0 ? "0" : Values.human(rate);
    }
    if (key.equals(WRITEBACK_DIRTY_PERCENT)) {
      int percent = percent(WRITEBACK_DIRTY_PERCENT, value, Writeback.MAX_DIRTY_PERCENT,
          engine.writeback().dirtyPercent());
      engine.writeback().setDirtyPercent(percent);
      return Integer.toString(percent);
    }
    if (key.equals(KSET_FLUSH_DELAY)) {
      Duration current = engine.ksetFlushDelay();
      Duration d;
      try {
        d = Values.parseDuration(v);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(KSET_FLUSH_DELAY + " = '" + value + "': " + e.getMessage() + " (keeping "
            + duration(current) + ")");
      }
      if (d.compareTo(MAX_FLUSH_DELAY) > 0) {
        throw new IllegalArgumentException(KSET_FLUSH_DELAY + " = '" + value + "' is out of range 0ms..1h (keeping "
            + duration(current) + ")");
      }
      engine.setKsetFlushDelay(d);
      return duration(d);
    }
    String parameter = policyKeys().get(key);
    if (parameter != null) {
      try {
        policy().setParameter(parameter, v);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(key + " = '" + value + "': " + e.getMessage());
      }
      return policy().parameters().get(parameter);
    }
    List<String> keys = keys();
    throw new IllegalArgumentException("unknown key '" + key + "' = '" + value + "'" + Suggestions.didYouMean(key, keys)
        + "; keys: " + String.join(", ", keys) + " ('pcache ctl show' lists them with their ranges)");
  }

  /**
   * A whole percentage {@code 0..max} for {@code key}, or an {@link IllegalArgumentException} that
   * names the key, the value, the range and the {@code current} value being kept.
   */
  private static int percent(String key, String value, int max, int current) {
    int percent;
    try {
      percent = Integer.parseInt(value.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " = '" + value + "' is not a whole number; expected 0.." + max + " (keeping "
          + current + ")");
    }
    if (percent < 0 || percent > max) {
      throw new IllegalArgumentException(key + " = " + percent + " is out of range 0.." + max + " (keeping " + current + ")");
    }
    return percent;
  }

  /** A duration the way configuration values are written: {@code 1s}, {@code 250ms}, {@code 2m}. */
  static String duration(Duration d) {
    long ms = d.toMillis();
    if (ms % 3_600_000 == 0 && ms > 0) {
      return ms / 3_600_000 + "h";
    }
    if (ms % 60_000 == 0 && ms > 0) {
      return ms / 60_000 + "m";
    }
    if (ms % 1000 == 0 && ms > 0) {
      return ms / 1000 + "s";
    }
    return ms + "ms";
  }
}
