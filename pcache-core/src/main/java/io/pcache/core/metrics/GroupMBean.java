package io.pcache.core.metrics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.AttributeNotFoundException;
import javax.management.DynamicMBean;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanInfo;
import javax.management.MBeanOperationInfo;

/**
 * A {@link MetricGroup} as a read-only MBean: one attribute per counter and gauge ({@code
 * read_hits}, {@code write_bytes} for operation {@code write} of {@code bytes}), and per latency
 * histogram {@code <op>_latency_count}, {@code _mean_us}, {@code _p50_us}, {@code _p99_us} and
 * {@code _p999_us}. Dynamic rather than a fixed MXBean interface so that JMX and Prometheus show
 * exactly the same metrics from the same {@link MetricSource}; every attribute has a description.
 */
final class GroupMBean implements DynamicMBean {

  private final MetricGroup group;
  private final MBeanInfo info;

  GroupMBean(MetricGroup group) {
    this.group = group;
    List<MBeanAttributeInfo> attrs = new ArrayList<>();
    group.source().collect(new MetricSource.Sink() {
      @Override
      public void counter(String name, String op, String help, long value) {
        attrs.add(new MBeanAttributeInfo(attribute(name, op), "long", help, true, false, false));
      }

      @Override
      public void gauge(String name, String op, String help, double value) {
        attrs.add(new MBeanAttributeInfo(attribute(name, op), "double", help, true, false, false));
      }

      @Override
      public void histogram(String name, String op, String help, LatencyHistogram.Snapshot s) {
        String p = histogramPrefix(op);
        attrs.add(new MBeanAttributeInfo(p + "_count", "long", help + ": completed operations", true, false, false));
        for (String q : List.of("mean", "p50", "p99", "p999")) {
          attrs.add(new MBeanAttributeInfo(p + "_" + q + "_us", "double", help + ": " + q + " in microseconds", true,
              false, false));
        }
      }
    });
    this.info = new MBeanInfo(GroupMBean.class.getName(), "pcache " + group.type() + " " + group.labels()
        + " (read-only; the same metrics as the Prometheus endpoint)", attrs.toArray(MBeanAttributeInfo[]::new),
        null, new MBeanOperationInfo[0], null);
  }

  static String attribute(String name, String op) {
    return op == null ? name : op + "_" + name;
  }

  static String histogramPrefix(String op) {
    return op == null ? "latency" : op + "_latency";
  }

  /** Every attribute's current value. */
  Map<String, Object> values() {
    Map<String, Object> m = new LinkedHashMap<>();
    group.source().collect(new MetricSource.Sink() {
      @Override
      public void counter(String name, String op, String help, long value) {
        m.put(attribute(name, op), value);
      }

      @Override
      public void gauge(String name, String op, String help, double value) {
        m.put(attribute(name, op), value);
      }

      @Override
      public void histogram(String name, String op, String help, LatencyHistogram.Snapshot s) {
        String p = histogramPrefix(op);
        m.put(p + "_count", s.count());
        m.put(p + "_mean_us", s.count() == 0 ? 0.0 : s.sumNanos() / 1000.0 / s.count());
        m.put(p + "_p50_us", s.quantileNanos(0.5) / 1000.0);
        m.put(p + "_p99_us", s.quantileNanos(0.99) / 1000.0);
        m.put(p + "_p999_us", s.quantileNanos(0.999) / 1000.0);
      }
    });
    return m;
  }

  @Override
  public Object getAttribute(String attribute) throws AttributeNotFoundException {
    Object v = values().get(attribute);
    if (v == null) {
      throw new AttributeNotFoundException("no attribute '" + attribute + "' in " + group.objectName());
    }
    return v;
  }

  @Override
  public AttributeList getAttributes(String[] attributes) {
    Map<String, Object> all = values();
    AttributeList list = new AttributeList();
    for (String a : attributes) {
      Object v = all.get(a);
      if (v != null) {
        list.add(new Attribute(a, v));
      }
    }
    return list;
  }

  @Override
  public void setAttribute(Attribute attribute) throws AttributeNotFoundException {
    throw new AttributeNotFoundException("pcache metrics are read-only: " + attribute.getName());
  }

  @Override
  public AttributeList setAttributes(AttributeList attributes) {
    return new AttributeList();
  }

  @Override
  public Object invoke(String actionName, Object[] params, String[] signature) {
    throw new UnsupportedOperationException("pcache metrics have no operations: " + actionName);
  }

  @Override
  public MBeanInfo getMBeanInfo() {
    return info;
  }
}
