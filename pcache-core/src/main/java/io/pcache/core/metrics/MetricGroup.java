package io.pcache.core.metrics;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;

/**
 * The metrics of one thing, under one JMX name and one set of Prometheus labels.
 *
 * @param type the kind of thing, {@code Cache}, {@code Frontend} or {@code Device}: the JMX
 *     {@code type} key, and in lower case the Prometheus prefix ({@code pcache_cache_...})
 * @param labels what tells it from others of its type, for example {@code role=media,
 *     name=file:/var/lib/pcache/cache.img}: the JMX keys and the Prometheus labels, in order
 * @param source where the values come from
 */
public record MetricGroup(String type, Map<String, String> labels, MetricSource source) {

  /** The JMX domain of every pcache MBean. */
  public static final String DOMAIN = "io.pcache";

  public MetricGroup {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(source, "source");
    labels = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(labels));
  }

  /** {@code io.pcache:type=Device,role=media,name="file:/var/lib/pcache/cache.img"}. */
  public ObjectName objectName() {
    StringBuilder b = new StringBuilder(DOMAIN).append(":type=").append(type);
    labels.forEach((k, v) -> b.append(',').append(k).append('=').append(quoteIfNeeded(v)));
    try {
      return new ObjectName(b.toString());
    } catch (MalformedObjectNameException e) {
      throw new IllegalArgumentException("cannot name the MBean of " + type + " " + labels + ": " + e.getMessage(), e);
    }
  }

  /** The Prometheus prefix: {@code pcache_cache}. */
  public String prefix() {
    return "pcache_" + type.toLowerCase(java.util.Locale.ROOT);
  }

  private static String quoteIfNeeded(String v) {
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == ',' || c == '=' || c == ':' || c == '"' || c == '*' || c == '?' || c == '\n' || c == '\\') {
        return ObjectName.quote(v);
      }
    }
    return v.isEmpty() ? ObjectName.quote(v) : v;
  }
}
