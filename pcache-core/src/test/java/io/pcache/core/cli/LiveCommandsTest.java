package io.pcache.core.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.gc.CacheUsage;
import io.pcache.api.gc.GcPolicy;
import io.pcache.core.config.ConfigSchema;
import io.pcache.core.config.CoreKeys;
import io.pcache.core.config.LayeredConfig;
import io.pcache.core.control.ControlServer;
import io.pcache.core.control.Tunables;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.engine.EngineOptions;
import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pcache status}, {@code ctl} and {@code drain} through the launcher against a running engine. */
class LiveCommandsTest {

  @TempDir Path home;
  private ByteArrayOutputStream out;
  private ByteArrayOutputStream err;
  private MemoryBacking backing;
  private CacheEngine engine;
  private ControlServer server;
  private Path cache;

  /** dm-pcache's threshold rule with a checked percentage. */
  static final class Percent implements GcPolicy {
    volatile int percent = 70;

    @Override
    public int segmentsToReclaim(CacheUsage u) {
      return u.usedSegments() >= u.totalSegments() * percent / 100 ? 1 : 0;
    }

    @Override
    public Map<String, String> parameters() {
      return Map.of("percent", Integer.toString(percent));
    }

    @Override
    public void setParameter(String key, String value) {
      percent = Integer.parseInt(value);
    }
  }

  @BeforeAll
  static void guice() {
    Main.configureGuice();
  }

  @BeforeEach
  void startEngine() throws Exception {
    backing = MemoryBacking.allocate("mem:b", 64L << 20);
    engine = CacheEngine.open(MemoryMedia.allocate("mem:cache", 512L << 20), backing, EngineOptions.defaults(), new Percent());
    cache = home.resolve("cache.img");
    server = ControlServer.start(home.resolve("pcache.sock"), engine,
        new Tunables(engine, "threshold", k -> Optional.empty()), cache.toString());
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
    engine.close();
  }

  private int run(String... args) {
    out = new ByteArrayOutputStream();
    err = new ByteArrayOutputStream();
    Output output = new Output(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    String[] all = new String[args.length + 4];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--control.socket";
    all[args.length + 1] = home.resolve("pcache.sock").toString();
    all[args.length + 2] = "--cache";
    all[args.length + 3] = "file:" + cache;
    return new Main(home, Map.of(), home, output).execute(all);
  }

  private List<String> outLines() {
    return out.toString(StandardCharsets.UTF_8).lines().toList();
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void statusOfTheRunningCache() throws Exception {
    engine.write(0, MemorySegment.ofArray(new byte[4096]), false);
    assertEquals(0, run("status"), err());
    List<String> lines = outLines();
    assertEquals(engine.statusLine(), lines.get(0));
    assertEquals(StatusCommand.HEADER, lines.get(1));
    assertTrue(lines.get(2).startsWith("live: pcache (pid " + ProcessHandle.current().pid() + ") answering on "), lines.get(2));
    assertTrue(lines.stream().anyMatch(l -> l.matches("  writes +1")), lines.toString());
  }

  @Test
  void statusSaysWhatABackingDeviceThatShrankKeepsFromBeingWrittenBack() throws Exception {
    engine.writeback().pause();
    engine.write(48L << 20, MemorySegment.ofArray(new byte[8192]), false);
    engine.flush();
    backing.resize(32L << 20);
    engine.writeback().resume();
    long deadline = System.nanoTime() + java.time.Duration.ofSeconds(20).toNanos();
    while (engine.writeback().backingShrink() == null && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(0, run("status"), err());
    List<String> shrunk = outLines().stream().filter(l -> l.startsWith("backing device mem:b shrank")).toList();
    assertEquals(1, shrunk.size(), outLines().toString());
    assertTrue(shrunk.get(0).startsWith("backing device mem:b shrank from " + (64L << 20) + " to " + (32L << 20)
        + " bytes: 8192 dirty bytes at offsets [" + (48L << 20) + ", " + ((48L << 20) + 8192) + ") cannot be written back"),
        shrunk.get(0));
    assertTrue(outLines().stream().noneMatch(l -> l.startsWith("writeback error")), outLines().toString());
    backing.resize(64L << 20);
  }

  @Test
  void anotherCacheIsNotAnsweredForByTheRunningOne() throws Exception {
    LayeredConfig config = LayeredConfig.load(new ConfigSchema().add("pcache-core", CoreKeys.all()), home,
        Optional.empty(), Map.of(), Map.of(CoreKeys.CONTROL_SOCKET, home.resolve("pcache.sock").toString(),
            CoreKeys.CACHE_DEVICE, "file:" + home.resolve("other.img")), home);
    Live live = Live.find(config, true);
    assertTrue(live.client().isEmpty());
    assertTrue(live.why().endsWith("serves " + cache + ", not " + home.resolve("other.img")), live.why());
  }

  @Test
  void ctlShowSetAndFlush() {
    assertEquals(0, run("ctl", "show"), err());
    assertTrue(outLines().get(0).startsWith("KEY"), outLines().toString());
    assertTrue(outLines().stream().anyMatch(l -> l.matches("gc_percent +70 +0\\.\\.90 .*cache_info.*")), outLines().toString());
    assertEquals(0, run("ctl", "set", "gc_percent", "50"), err());
    assertEquals(List.of("gc_percent = 50"), outLines());
    assertEquals("50", engine.statusLine().split(" ")[4]);
    assertEquals(0, run("ctl", "flush"), err());
    assertEquals(0, run("ctl", "writeback", "pause"), err());
    assertTrue(engine.writeback().paused());
    assertEquals(0, run("ctl", "writeback", "resume"), err());
    assertTrue(!engine.writeback().paused());
  }

  @Test
  void ctlRefusesBadValuesInOneLineWithStatus2() {
    for (String[] bad : List.of(new String[] {"95", "gc_percent = 95 is out of range 0..90 (keeping 70)"},
        new String[] {"-1", "gc_percent = -1 is out of range 0..90 (keeping 70)"})) {
      assertEquals(2, run("ctl", "set", "gc_percent", bad[0]));
      assertEquals("pcache: " + bad[1] + "\n", err());
    }
    assertEquals(2, run("ctl", "set", "writeback.rat", "1M"));
    assertTrue(err().contains("unknown key 'writeback.rat' = '1M'; did you mean 'writeback.rate'?"), err());
    assertEquals(2, run("ctl", "sett"));
    assertTrue(err().contains("unknown ctl action 'sett'; did you mean 'set'?"), err());
    assertEquals("70", engine.statusLine().split(" ")[4]);
  }

  @Test
  void ctlWithoutARunningPcacheSaysSo() {
    out = new ByteArrayOutputStream();
    err = new ByteArrayOutputStream();
    Output output = new Output(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    Path elsewhere = home.resolve("nobody.sock");
    assertEquals(1, new Main(home, Map.of(), home, output).execute(new String[] {"ctl", "show", "--control.socket",
        elsewhere.toString()}));
    assertEquals("pcache: ctl needs a running pcache, and no pcache answers on " + elsewhere
        + " (start 'pcache run', or point --control.socket at its socket)\n", err());
  }

  @Test
  void drainOfTheRunningCache() throws Exception {
    for (int i = 0; i < 16; i++) {
      engine.write((long) i * 8192, MemorySegment.ofArray(new byte[4096]), false);
    }
    assertEquals(0, run("drain"), err());
    assertTrue(outLines().get(0).matches("drained the running pcache: [0-9]+ ksets written back; key_head .*"), outLines().toString());
    assertTrue(err().contains("100%"), err() + outLines());
    assertTrue(engine.clean(), engine.positions());
  }
}
