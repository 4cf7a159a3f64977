package io.pcache.frontend.nbd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * Request latency and IOPS of the server on loopback against the in-memory device, measured with
 * fio's nbd engine. Not part of the normal build: run it with {@code ./mvnw -o -q test -pl
 * pcache-frontend-nbd -Dtest=FioBenchmark -Dpcache.bench=true}; results go to stdout (the surefire
 * report) and {@code target/fio-benchmark.txt}.
 */
class FioBenchmark {

  @TempDir
  Path dir;

  @Test
  @EnabledIfSystemProperty(named = "pcache.bench", matches = "true")
  void randomReads() throws Exception {
    Tools.require("fio");
    int seconds = Integer.getInteger("pcache.bench.seconds", 10);
    List<String> lines = new ArrayList<>();
    try (MemoryDevice device = new MemoryDevice("memory", 1L << 30);
        TestServer server = TestServer.start(device, dir, Map.of())) {
      // warm up the JIT: the first seconds of a fresh JVM are not what a running server does
      Tools.run(Duration.ofSeconds(60), "fio", "--name=warmup", "--ioengine=nbd", "--uri=" + server.uri(),
          "--rw=randrw", "--bs=4k", "--size=1G", "--iodepth=16", "--time_based", "--runtime=8").ok();
      for (String uri : List.of(server.uri(), server.unixUri())) {
        for (String rw : List.of("randread", "randwrite")) {
          for (int depth : new int[] {1, 32}) {
            List<String> cmd = List.of("fio", "--name=bench", "--ioengine=nbd", "--uri=" + uri, "--rw=" + rw,
                "--bs=4k", "--size=1G", "--iodepth=" + depth, "--numjobs=1", "--time_based", "--runtime=" + seconds,
                "--ramp_time=2", "--clat_percentiles=0", "--lat_percentiles=1", "--output-format=json");
            String json = Tools.run(Duration.ofSeconds(seconds + 60), cmd).ok().output();
            String section = json.substring(json.indexOf(rw.equals("randread") ? "\"read\"" : "\"write\""));
            double iops = number(section, "\"iops\"\\s*:\\s*([0-9.]+)");
            double p50 = number(section, "\"50\\.000000\"\\s*:\\s*([0-9]+)") / 1000.0;
            double p99 = number(section, "\"99\\.000000\"\\s*:\\s*([0-9]+)") / 1000.0;
            String line = String.format("%-5s %-9s iodepth %2d: %,8.0f IOPS, latency p50 %7.1f us, p99 %7.1f us",
                uri.startsWith("nbd+unix") ? "unix" : "tcp", rw, depth, iops, p50, p99);
            lines.add(line);
            System.out.println(line);
          }
        }
      }
      lines.add("command: " + "fio --name=bench --ioengine=nbd --uri=URI --rw=randread|randwrite --bs=4k --size=1G"
          + " --iodepth=1|32 --numjobs=1 --time_based --runtime=" + seconds + " --ramp_time=2 --lat_percentiles=1");
    }
    Files.write(Path.of("target", "fio-benchmark.txt"), lines);
  }

  private static double number(String text, String regex) throws IOException {
    Matcher m = Pattern.compile(regex).matcher(text);
    if (!m.find()) {
      throw new IOException("no " + regex + " in fio output");
    }
    return Double.parseDouble(m.group(1));
  }
}
