package io.pcache.core.metrics;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes metric groups in the Prometheus text exposition format 0.0.4: per family one {@code # HELP}
 * and one {@code # TYPE} line, then its samples; counters end in {@code _total}; latency histograms
 * are {@code <name>_seconds} with cumulative {@code _bucket{le="..."}} samples (one per power of
 * two from 512 ns to 68.7 s, and {@code +Inf}), {@code _sum} and {@code _count}.
 */
public final class PrometheusFormat {

  /** The Content-Type of the format. */
  public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  /** The smallest bucket bound exported, in nanoseconds. */
  static final long MIN_BOUND_NANOS = 512;

  private PrometheusFormat() {}

  private record Family(String type, String help, List<String> samples) {}

  /** The exposition of {@code groups}. */
  public static String write(List<MetricGroup> groups) {
    Map<String, Family> families = new LinkedHashMap<>();
    for (MetricGroup g : groups) {
      String prefix = g.prefix();
      g.source().collect(new MetricSource.Sink() {
        @Override
        public void counter(String name, String op, String help, long value) {
          String f = prefix + "_" + name + "_total";
          family(families, f, "counter", help).add(f + labels(g, op, null) + " " + value);
        }

        @Override
        public void gauge(String name, String op, String help, double value) {
          String f = prefix + "_" + name;
          family(families, f, "gauge", help).add(f + labels(g, op, null) + " " + number(value));
        }

        @Override
        public void histogram(String name, String op, String help, LatencyHistogram.Snapshot s) {
          String f = prefix + "_" + name + "_seconds";
          List<String> out = family(families, f, "histogram", help);
          long cumulative = 0;
          long[] counts = s.counts();
          for (int i = 0; i < LatencyHistogram.FINITE; i++) {
            cumulative += counts[i];
            long upper = LatencyHistogram.upperNanos(i);
            if (upper >= MIN_BOUND_NANOS && Long.bitCount(upper) == 1) {
              out.add(f + "_bucket" + labels(g, op, seconds(upper)) + " " + cumulative);
            }
          }
          out.add(f + "_bucket" + labels(g, op, "+Inf") + " " + s.count());
          out.add(f + "_sum" + labels(g, op, null) + " " + seconds(s.sumNanos()));
          out.add(f + "_count" + labels(g, op, null) + " " + s.count());
        }
      });
    }
    StringBuilder b = new StringBuilder(16 * 1024);
    families.forEach((name, f) -> {
      b.append("# HELP ").append(name).append(' ').append(escapeHelp(f.help())).append('\n');
      b.append("# TYPE ").append(name).append(' ').append(f.type()).append('\n');
      for (String s : f.samples()) {
        b.append(s).append('\n');
      }
    });
    return b.toString();
  }

  private static List<String> family(Map<String, Family> families, String name, String type, String help) {
    Family f = families.computeIfAbsent(name, n -> new Family(type, help, new ArrayList<>()));
    if (!f.type().equals(type)) {
      throw new IllegalStateException("metric " + name + " reported as both " + f.type() + " and " + type);
    }
    return f.samples();
  }

  private static String labels(MetricGroup g, String op, String le) {
    StringBuilder b = new StringBuilder();
    g.labels().forEach((k, v) -> label(b, k, v));
    if (op != null) {
      label(b, "op", op);
    }
    if (le != null) {
      label(b, "le", le);
    }
    return b.isEmpty() ? "" : "{" + b + "}";
  }

  private static void label(StringBuilder b, String key, String value) {
    if (!b.isEmpty()) {
      b.append(',');
    }
    b.append(key).append("=\"");
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '\\' -> b.append("\\\\");
        case '"' -> b.append("\\\"");
        case '\n' -> b.append("\\n");
        default -> b.append(c);
      }
    }
    b.append('"');
  }

  private static String escapeHelp(String help) {
    return help.replace("\\", "\\\\").replace("\n", "\\n");
  }

  /** Nanoseconds as seconds in plain decimal: 512 → {@code 0.000000512}. */
  static String seconds(long nanos) {
    return BigDecimal.valueOf(nanos).movePointLeft(9).stripTrailingZeros().toPlainString();
  }

  private static String number(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return Long.toString((long) v);
    }
    return Double.toString(v);
  }
}
