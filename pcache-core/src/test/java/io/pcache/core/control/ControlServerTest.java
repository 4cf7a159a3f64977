package io.pcache.core.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.gc.CacheUsage;
import io.pcache.api.gc.GcPolicy;
import io.pcache.core.engine.CacheEngine;
import io.pcache.core.engine.EngineOptions;
import io.pcache.testkit.MemoryBacking;
import io.pcache.testkit.MemoryMedia;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The control socket against a real engine on memory media. */
class ControlServerTest {

  static final long MEDIA = 512L << 20;
  static final long BACKING = 64L << 20;
  static final int BLOCK = 4096;

  @TempDir Path dir;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  /** dm-pcache's threshold rule with a checked {@code percent}. */
  static final class PercentPolicy implements GcPolicy {
    volatile int percent;

    PercentPolicy(int percent) {
      this.percent = percent;
    }

    @Override
    public int segmentsToReclaim(CacheUsage u) {
      int threshold = u.totalSegments() * percent / 100;
      return u.usedSegments() >= threshold || u.waitingWrites() > 0 ? Math.max(1, u.usedSegments() - threshold + 1) : 0;
    }

    @Override
    public Map<String, String> parameters() {
      return Map.of("percent", Integer.toString(percent));
    }

    @Override
    public void setParameter(String key, String value) {
      if (!key.equals("percent")) {
        throw new IllegalArgumentException("no parameter '" + key + "'");
      }
      int v = Integer.parseInt(value);
      if (v < 0 || v > 90) {
        throw new IllegalArgumentException("percent " + v + " out of range 0..90");
      }
      percent = v;
    }
  }

  /** Two parameters with a cross-check, like the watermark policy. */
  static final class MarksPolicy implements GcPolicy {
    volatile int high = 80;
    volatile int low = 60;

    @Override
    public int segmentsToReclaim(CacheUsage u) {
      return u.usedPercent() >= high ? Math.max(1, u.usedSegments() - u.totalSegments() * low / 100) : 0;
    }

    @Override
    public Map<String, String> parameters() {
      return Map.of("high", Integer.toString(high), "low", Integer.toString(low));
    }

    @Override
    public synchronized void setParameter(String key, String value) {
      int v;
      try {
        v = Integer.parseInt(value);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("parameter '" + key + "' = '" + value + "' is not a whole number");
      }
      if (v < 1 || v > 95) {
        throw new IllegalArgumentException("parameter '" + key + "' = '" + value + "' is out of range 1..95");
      }
      switch (key) {
        case "high" -> {
          if (v <= low) {
            throw new IllegalArgumentException("high must be above low " + low);
          }
          high = v;
        }
        case "low" -> {
          if (v >= high) {
            throw new IllegalArgumentException("low must be below high " + high);
          }
          low = v;
        }
        default -> throw new IllegalArgumentException("no parameter '" + key + "'");
      }
    }
  }

  record Cache(MemoryMedia media, MemoryBacking backing, CacheEngine engine, ControlServer server) {}

  private Cache start(GcPolicy policy, String policyName, EngineOptions options) throws IOException {
    MemoryMedia media = MemoryMedia.allocate("mem:cache", MEDIA);
    MemoryBacking backing = MemoryBacking.allocate("mem:backing", BACKING);
    return start(media, backing, policy, policyName, options);
  }

  private Cache start(MemoryMedia media, MemoryBacking backing, GcPolicy policy, String policyName, EngineOptions options)
      throws IOException {
    CacheEngine engine = CacheEngine.open(media, backing, options, policy);
    toClose.add(engine);
    ControlServer server = ControlServer.start(dir.resolve("pcache.sock"), engine,
        new Tunables(engine, policyName, k -> Optional.empty()), "/dev/mem-cache");
    toClose.add(0, server);
    return new Cache(media, backing, engine, server);
  }

  private Cache start() throws IOException {
    return start(new PercentPolicy(70), "threshold", EngineOptions.defaults());
  }

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : toClose) {
      c.close();
    }
  }

  private ControlClient client(Cache c) throws IOException {
    ControlClient client = ControlClient.connect(c.server().path()).orElseThrow();
    toClose.add(0, client);
    return client;
  }

  private static String gcPercentOnMedia(CacheEngine e) {
    return e.statusLine().split(" ")[4];
  }

  // ---------------------------------------------------------------------------------------------
  // The socket file

  @Test
  void socketIsOwnerOnlyAndLeavesNothingBehind() throws Exception {
    Cache c = start();
    Path socket = c.server().path();
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
    try (var files = Files.list(dir)) {
      assertEquals(List.of(socket), files.toList(), "no temporary directory is left next to the socket");
    }
    c.server().close();
    assertFalse(Files.exists(socket), "close removes the socket file");
    assertTrue(ControlClient.connect(socket).isEmpty());
  }

  @Test
  void aStaleSocketIsReplaced() throws Exception {
    Path socket = dir.resolve("pcache.sock");
    ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    dead.bind(UnixDomainSocketAddress.of(socket));
    dead.close(); // the file stays, as after a kill -9
    assertTrue(Files.exists(socket));
    assertTrue(ControlClient.connect(socket).isEmpty(), "nobody answers on a stale socket");
    Cache c = start();
    assertTrue(client(c).call("ping").ok());
  }

  @Test
  void aLiveSocketIsNotTakenOver() throws Exception {
    Cache c = start();
    IOException e = assertThrows(IOException.class, () -> ControlServer.start(c.server().path(), c.engine(),
        new Tunables(c.engine(), "threshold", k -> Optional.empty()), "/dev/other"));
    assertTrue(e.getMessage().contains("another pcache is running with control socket " + c.server().path()), e.getMessage());
    assertTrue(client(c).call("ping").ok(), "the first server still answers");
  }

  @Test
  void aFileThatIsNotASocketIsRefused() throws Exception {
    Files.writeString(dir.resolve("pcache.sock"), "mine");
    IOException e = assertThrows(IOException.class, this::start);
    assertTrue(e.getMessage().contains("exists and is not a socket (a regular file)"), e.getMessage());
    assertEquals("mine", Files.readString(dir.resolve("pcache.sock")));
  }

  @Test
  void aTooLongPathIsNamed() throws Exception {
    CacheEngine engine = CacheEngine.open(MemoryMedia.allocate("mem:cache", MEDIA), MemoryBacking.allocate("mem:b", BACKING),
        EngineOptions.defaults(), new PercentPolicy(70));
    toClose.add(engine);
    Path deep = dir.resolve("x".repeat(120)).resolve("pcache.sock");
    IOException e = assertThrows(IOException.class, () -> ControlServer.start(deep, engine,
        new Tunables(engine, "threshold", k -> Optional.empty()), "/dev/x"));
    assertTrue(e.getMessage().contains("Unix sockets allow at most 107"), e.getMessage());
  }

  /**
   * The default socket under data.dir may sit on a file system without sockets (seen: 9p in the
   * VM harness): pcache then serves without one and says so; a socket asked for by name must work.
   */
  @Test
  void anUnusableDefaultPlaceIsSkippedButAnExplicitOneIsAnError() throws Exception {
    CacheEngine engine = CacheEngine.open(MemoryMedia.allocate("mem:cache", MEDIA), MemoryBacking.allocate("mem:b", BACKING),
        EngineOptions.defaults(), new PercentPolicy(70));
    toClose.add(engine);
    Files.writeString(dir.resolve("file"), "not a directory");
    String unusable = dir.resolve("file").resolve("pcache.sock").toString();
    List<io.pcache.api.ConfigKey> keys = new ArrayList<>();
    for (io.pcache.api.ConfigKey k : io.pcache.core.config.CoreKeys.all()) {
      keys.add(k.name().equals(io.pcache.core.config.CoreKeys.CONTROL_SOCKET)
          ? io.pcache.api.ConfigKey.path(k.name(), unusable, k.description()) : k);
    }
    Map<String, String> device = Map.of(io.pcache.core.config.CoreKeys.CACHE_DEVICE, dir.resolve("c.img").toString());
    assertEquals(Optional.empty(), ControlServer.start(engine, new io.pcache.testkit.MapConfig(keys, device)));
    Map<String, String> named = new java.util.HashMap<>(device);
    named.put(io.pcache.core.config.CoreKeys.CONTROL_SOCKET, unusable);
    IOException e = assertThrows(IOException.class,
        () -> ControlServer.start(engine, new io.pcache.testkit.MapConfig(keys, named)));
    assertTrue(e.getMessage().contains("cannot create the control socket " + unusable), e.getMessage());
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  @Test
  void statusShowsTheLiveLineAndCounters() throws Exception {
    Cache c = start();
    c.engine().write(0, MemorySegment.ofArray(new byte[BLOCK]), false);
    ControlClient.Reply r = client(c).call("status");
    assertTrue(r.ok(), r.toString());
    assertTrue(r.lines().contains("status " + c.engine().statusLine()), r.lines().toString());
    assertTrue(r.lines().contains("device /dev/mem-cache"), r.lines().toString());
    assertTrue(r.lines().contains("counter writes 1"), r.lines().toString());
    assertTrue(r.lines().contains("gc threshold percent=70"), r.lines().toString());
  }

  @Test
  void setChangesAndPersistsGcPercentLikeDmPcache() throws Exception {
    MemoryMedia media = MemoryMedia.allocate("mem:cache", MEDIA);
    MemoryBacking backing = MemoryBacking.allocate("mem:backing", BACKING);
    Cache c = start(media, backing, new PercentPolicy(70), "threshold", EngineOptions.defaults());
    ControlClient client = client(c);
    ControlClient.Reply r = client.call("set gc_percent 50");
    assertEquals(List.of("gc_percent = 50"), r.lines());
    assertEquals("50", gcPercentOnMedia(c.engine()));
    assertEquals("50", c.engine().gcPolicy().parameters().get("percent"));
    assertTrue(client.call("set gc.threshold.percent 40").ok());
    assertEquals("40", gcPercentOnMedia(c.engine()));
    c.server().close();
    c.engine().close();
    // The next start takes the persisted value, as dm-pcache does (no explicit setting given).
    PercentPolicy fresh = new PercentPolicy(70);
    CacheEngine again = CacheEngine.open(media.reopen(), backing, EngineOptions.defaults(), fresh);
    toClose.add(again);
    assertEquals(40, fresh.percent);
    assertEquals("40", gcPercentOnMedia(again));
  }

  @Test
  void badKeysAndValuesAreRefusedAndChangeNothing() throws Exception {
    Cache c = start();
    ControlClient client = client(c);
    List<String> before = client.call("show").lines();
    String statusBefore = c.engine().statusLine();
    record Bad(String request, String says) {}
    for (Bad bad : List.of(
        new Bad("set gc_percnt 50", "unknown key 'gc_percnt' = '50'; did you mean 'gc_percent'?"),
        new Bad("set gc_percent 91", "gc_percent = 91 is out of range 0..90 (keeping 70)"),
        new Bad("set gc_percent -1", "gc_percent = -1 is out of range 0..90 (keeping 70)"),
        new Bad("set gc_percent lots", "gc_percent = 'lots' is not a whole number; expected 0..90 (keeping 70)"),
        new Bad("set writeback.rate fast", "writeback.rate = 'fast': not a size"),
        new Bad("set writeback.rate 2T", "writeback.rate = '2T' is out of range 0..1T per second"),
        new Bad("set writeback.dirty-percent 91", "writeback.dirty-percent = 91 is out of range 0..90 (keeping 0)"),
        new Bad("set writeback.dirty-percent half", "writeback.dirty-percent = 'half' is not a whole number; expected 0..90"),
        new Bad("set cache.kset-flush-delay 2h", "cache.kset-flush-delay = '2h' is out of range 0ms..1h (keeping 1s)"),
        new Bad("set cache.kset-flush-delay soon", "cache.kset-flush-delay = 'soon': not a duration"),
        new Bad("set gc.watermark.high 90", "unknown key 'gc.watermark.high'"),
        new Bad("writeback stop", "writeback takes pause or resume, not 'stop'"),
        new Bad("destroy", "unknown command 'destroy'"))) {
      ControlClient.Reply r = client.call(bad.request());
      assertEquals(ControlClient.Status.INVALID, r.status(), bad.request());
      assertTrue(r.message().contains(bad.says()), bad.request() + " -> " + r.message());
    }
    assertEquals(before, client.call("show").lines());
    assertEquals(statusBefore, c.engine().statusLine());
    assertTrue(client.call("ping").ok(), "the connection survives refused requests");
  }

  @Test
  void gcPolicyParametersAreTunablesNamedLikeTheirConfigurationKeys() throws Exception {
    MarksPolicy policy = new MarksPolicy();
    Cache c = start(policy, "watermark", EngineOptions.defaults());
    ControlClient client = client(c);
    List<String> show = client.call("show").lines();
    assertTrue(show.stream().anyMatch(l -> l.startsWith("tunable gc.watermark.high\t80\t")), show.toString());
    assertTrue(show.stream().noneMatch(l -> l.startsWith("tunable gc_percent")), show.toString());
    assertTrue(client.call("set gc.watermark.high 85").ok());
    assertEquals(85, policy.high);
    ControlClient.Reply r = client.call("set gc.watermark.low 90");
    assertEquals(ControlClient.Status.INVALID, r.status());
    assertTrue(r.message().startsWith("gc.watermark.low = '90': low must be below high 85"), r.message());
    assertEquals(60, policy.low);
    r = client.call("set gc_percent 50");
    assertTrue(r.message().contains("gc_percent belongs to the threshold GC policy; this cache runs 'watermark'"),
        r.message());
  }

  @Test
  void writebackPauseResumeAndRate() throws Exception {
    Cache c = start();
    ControlClient client = client(c);
    assertEquals(List.of("writeback paused"), client.call("writeback pause").lines());
    c.engine().write(0, MemorySegment.ofArray(new byte[BLOCK]), false);
    assertTrue(client.call("flush").ok());
    Thread.sleep(300);
    assertFalse(c.engine().clean(), "paused: nothing is written back");
    assertTrue(client.call("set writeback.rate 100M/s").lines().contains("writeback.rate = 100M"));
    assertEquals(100L << 20, c.engine().writeback().rate());
    assertTrue(client.call("writeback resume").ok());
    awaitClean(c.engine());
    assertTrue(client.call("set writeback.rate 0").ok());
    assertEquals(0, c.engine().writeback().rate());
    assertTrue(client.call("set writeback.dirty-percent 40").lines().contains("writeback.dirty-percent = 40"));
    assertEquals(40, c.engine().writeback().dirtyPercent());
    assertTrue(client.call("show").lines().stream().anyMatch(l -> l.startsWith("tunable writeback.dirty-percent\t40\t")));
    List<String> status = client.call("status").lines();
    assertTrue(status.stream().anyMatch(l -> l.startsWith("writeback running") && l.contains(", dirty-percent 40")),
        status.toString());
  }

  @Test
  void ksetFlushDelayAppliesToOpenKsets() throws Exception {
    Cache c = start(new PercentPolicy(70), "threshold", EngineOptions.defaults().withKsetFlushDelay(Duration.ofHours(1)));
    ControlClient client = client(c);
    c.engine().write(0, MemorySegment.ofArray(new byte[BLOCK]), false);
    Thread.sleep(500);
    assertFalse(c.engine().clean(), "an open kset held for an hour");
    assertEquals(List.of("cache.kset-flush-delay = 20ms"), client.call("set cache.kset-flush-delay 20ms").lines());
    awaitClean(c.engine());
  }

  @Test
  void anOverlongRequestIsRefusedAndTheConnectionClosed() throws Exception {
    Cache c = start();
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(c.server().path()))) {
      ch.write(ByteBuffer.wrap(("set gc_percent " + "9".repeat(ControlProtocol.MAX_LINE) + "\n").getBytes(StandardCharsets.UTF_8)));
      ByteBuffer in = ByteBuffer.allocate(8192);
      StringBuilder reply = new StringBuilder();
      while (ch.read(in) >= 0) {
        in.flip();
        reply.append(StandardCharsets.UTF_8.decode(in));
        in.clear();
      }
      assertTrue(reply.toString().startsWith("invalid request line longer than 4096 bytes"), reply.toString());
    }
    assertEquals("70", gcPercentOnMedia(c.engine()));
  }

  /** 16 clients at once mixing every request, while two writers keep the cache busy. */
  @Test
  void manyConcurrentClients() throws Exception {
    Cache c = start();
    int threads = 16;
    int rounds = 60;
    CyclicBarrier go = new CyclicBarrier(threads + 2);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Set<String> percentsSet = ConcurrentHashMap.newKeySet();
    AtomicBoolean writing = new AtomicBoolean(true);
    List<Thread> all = new ArrayList<>();
    for (int w = 0; w < 2; w++) {
      int writer = w;
      all.add(Thread.ofPlatform().name("test-writer-" + w).start(() -> {
        try {
          go.await();
          SplittableRandom r = new SplittableRandom(100 + writer);
          byte[] b = new byte[BLOCK];
          while (writing.get()) {
            r.nextBytes(b);
            c.engine().write((long) r.nextInt((int) (BACKING / BLOCK)) * BLOCK, MemorySegment.ofArray(b), false);
          }
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
        }
      }));
    }
    List<Thread> clients = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int id = t;
      clients.add(Thread.ofPlatform().name("test-client-" + t).start(() -> {
        try (ControlClient client = ControlClient.connect(c.server().path()).orElseThrow()) {
          go.await();
          SplittableRandom r = new SplittableRandom(id);
          for (int i = 0; i < rounds; i++) {
            switch (r.nextInt(6)) {
              case 0 -> {
                ControlClient.Reply s = client.call("status");
                check(s.ok() && s.lines().get(0).startsWith("status 0 31 31 "), s);
              }
              case 1 -> {
                int p = r.nextInt(91);
                percentsSet.add(Integer.toString(p));
                ControlClient.Reply s = client.call("set gc_percent " + p);
                check(s.ok() && s.lines().equals(List.of("gc_percent = " + p)), s);
              }
              case 2 -> {
                ControlClient.Reply s = client.call("set gc_percent " + (91 + r.nextInt(100)));
                check(s.status() == ControlClient.Status.INVALID && s.message().contains("out of range 0..90"), s);
              }
              case 3 -> check(client.call("flush").ok(), "flush");
              case 4 -> {
                ControlClient.Reply s = client.call("show");
                check(s.ok() && s.lines().size() == 5, s);
              }
              default -> {
                // A fresh connection per request, as the CLI makes.
                try (ControlClient once = ControlClient.connect(c.server().path()).orElseThrow()) {
                  check(once.call("ping").ok(), "ping");
                }
              }
            }
          }
        } catch (Throwable t2) {
          failure.compareAndSet(null, t2);
        }
      }));
    }
    for (Thread t : clients) {
      t.join(120_000);
    }
    writing.set(false);
    for (Thread t : all) {
      t.join(60_000);
    }
    if (failure.get() != null) {
      throw new AssertionError(failure.get());
    }
    String percent = c.engine().gcPolicy().parameters().get("percent");
    assertEquals(percent, gcPercentOnMedia(c.engine()), "the policy and cache_info agree");
    assertTrue(percentsSet.isEmpty() || percentsSet.contains(percent), percent + " was set by a client");
  }

  private static void check(boolean ok, Object what) {
    if (!ok) {
      throw new AssertionError("unexpected reply: " + what);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Drain

  /**
   * A drain while writers keep writing: every write acknowledged before the drain started is on
   * the backing device when it returns (each block carries a version number); after the writers
   * stop, a second drain leaves the backing device equal to the reference exactly.
   */
  @Test
  void liveDrainUnderAWriteLoad() throws Exception {
    Cache c = start(new PercentPolicy(70), "threshold",
        EngineOptions.defaults().withWritebackRate(64L << 20).withKsetFlushDelay(Duration.ofMillis(50)));
    int blocks = 2048; // 8 MiB, in 4 writer regions
    int writers = 4;
    byte[][] reference = new byte[blocks][];
    AtomicLongArray acked = new AtomicLongArray(blocks);
    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> threads = new ArrayList<>();
    for (int w = 0; w < writers; w++) {
      int writer = w;
      threads.add(Thread.ofPlatform().name("test-writer-" + w).start(() -> {
        SplittableRandom r = new SplittableRandom(writer);
        long version = 0;
        try {
          while (writing.get()) {
            int block = writer * (blocks / writers) + r.nextInt(blocks / writers);
            byte[] b = new byte[BLOCK];
            r.nextBytes(b);
            version++;
            ByteBuffer.wrap(b).putLong(0, version);
            c.engine().write((long) block * BLOCK, MemorySegment.ofArray(b), false);
            synchronized (reference) {
              reference[block] = b;
            }
            acked.set(block, version);
          }
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
        }
      }));
    }
    Thread.sleep(1000);
    long[] before = new long[blocks];
    for (int i = 0; i < blocks; i++) {
      before[i] = acked.get(i);
    }
    List<String> progress = new ArrayList<>();
    try (ControlClient client = client(c)) {
      ControlClient.Reply r = client.call("drain", progress::add);
      assertTrue(r.ok(), r + " " + progress);
    }
    assertTrue(progress.stream().anyMatch(l -> l.startsWith("progress ")), progress.toString());
    assertTrue(progress.get(progress.size() - 1).startsWith("drained "), progress.toString());
    MemorySegment onBacking = c.backing().memory();
    for (int i = 0; i < blocks; i++) {
      long v = stableVersion(onBacking, i);
      assertTrue(v >= before[i], "block " + i + ": version " + v + " on the backing device, " + before[i]
          + " acknowledged before the drain");
    }
    writing.set(false);
    for (Thread t : threads) {
      t.join(60_000);
    }
    if (failure.get() != null) {
      throw new AssertionError(failure.get());
    }
    try (ControlClient client = client(c)) {
      assertTrue(client.call("drain").ok());
    }
    assertTrue(c.engine().clean(), c.engine().positions());
    for (int i = 0; i < blocks; i++) {
      byte[] expect = reference[i] == null ? new byte[BLOCK] : reference[i];
      byte[] actual = onBacking.asSlice((long) i * BLOCK, BLOCK).toArray(ValueLayout.JAVA_BYTE);
      if (!java.util.Arrays.equals(expect, actual)) {
        throw new AssertionError("block " + i + " differs from the reference after the final drain");
      }
    }
  }

  @Test
  void drainResumesAPausedWriteback() throws Exception {
    Cache c = start();
    ControlClient client = client(c);
    client.call("writeback pause");
    c.engine().write(BLOCK, MemorySegment.ofArray(new byte[BLOCK]), false);
    List<String> lines = new ArrayList<>();
    assertTrue(client.call("drain", lines::add).ok());
    assertEquals("note writeback was paused; resumed for the drain", lines.get(0));
    assertTrue(c.engine().clean());
  }

  @Test
  void closingTheServerEndsADrain() throws Exception {
    Cache c = start();
    ControlClient client = client(c);
    client.call("set writeback.rate 64K"); // 64 keys of 4 KiB: 4 s
    for (int i = 0; i < 64; i++) {
      c.engine().write((long) i * 2 * BLOCK, MemorySegment.ofArray(new byte[BLOCK]), false);
    }
    AtomicReference<ControlClient.Reply> reply = new AtomicReference<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread t = Thread.ofPlatform().name("test-drain").start(() -> {
      try {
        reply.set(client.call("drain"));
      } catch (Throwable e) {
        failure.set(e);
      }
    });
    Thread.sleep(500);
    c.server().close();
    c.engine().writeback().setRate(0); // so that the engine closes quickly after the test
    t.join(10_000);
    assertFalse(t.isAlive());
    if (reply.get() != null) {
      assertEquals(ControlClient.Status.ERROR, reply.get().status());
      assertTrue(reply.get().message().startsWith("pcache is shutting down"), reply.get().message());
    } else {
      assertTrue(failure.get() instanceof IOException, String.valueOf(failure.get()));
    }
  }

  /** A block's version; read until two reads agree (writeback of later writes goes on meanwhile). */
  private static long stableVersion(MemorySegment backing, int block) {
    ValueLayout.OfLong layout = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);
    long v = backing.get(layout, (long) block * BLOCK);
    for (long again = backing.get(layout, (long) block * BLOCK); again != v; again = backing.get(layout, (long) block * BLOCK)) {
      v = again;
    }
    return v;
  }

  private static void awaitClean(CacheEngine e) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!e.clean() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertTrue(e.clean(), e.positions());
  }
}
