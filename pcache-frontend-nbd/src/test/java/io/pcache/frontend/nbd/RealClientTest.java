package io.pcache.frontend.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.testkit.Seeds;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server against real NBD clients: libnbd (nbdinfo, nbdcopy, nbdsh), qemu (qemu-img,
 * qemu-io) and fio's nbd engine, over TCP and the Unix socket. Each test skips with a message
 * naming the Debian package when its tool is missing.
 */
@Timeout(120)
class RealClientTest {

  private static final long SIZE = 64L << 20;
  private static final Duration T = Duration.ofSeconds(60);

  @TempDir
  static Path dir;

  private static MemoryDevice device;
  private static TestServer server;

  @BeforeAll
  static void start() throws IOException {
    device = new MemoryDevice("memory", SIZE);
    server = TestServer.start(device, dir, Map.of(NbdSettings.DESCRIPTION, "pcache test export"));
  }

  @AfterAll
  static void stop() throws IOException {
    server.close();
    device.close();
  }

  private static boolean jsonBool(String json, String key) {
    Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\":\\s*(true|false)").matcher(json);
    assertTrue(m.find(), () -> key + " missing in " + json);
    return Boolean.parseBoolean(m.group(1));
  }

  private static long jsonLong(String json, String key) {
    Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\":\\s*(\\d+)").matcher(json);
    assertTrue(m.find(), () -> key + " missing in " + json);
    return Long.parseLong(m.group(1));
  }

  @Test
  void nbdinfoSeesSizeBlockSizesAndFlags() throws IOException {
    Tools.require("nbdinfo");
    for (String uri : List.of(server.uri(), server.unixUri())) {
      String json = Tools.run(T, "nbdinfo", "--json", uri).ok().output();
      assertEquals(SIZE, jsonLong(json, "export-size"), json);
      assertEquals(512, jsonLong(json, "block_size_minimum"));
      assertEquals(4096, jsonLong(json, "block_size_preferred"));
      assertEquals(32L << 20, jsonLong(json, "block_size_maximum"));
      for (String yes : List.of("structured", "can_multi_conn", "can_flush", "can_fua", "can_trim", "can_zero",
          "can_fast_zero", "can_cache", "can_df")) {
        assertTrue(jsonBool(json, yes), yes + " in " + json);
      }
      assertFalse(jsonBool(json, "is_read_only"));
      assertFalse(jsonBool(json, "TLS"));
      assertTrue(json.contains("\"base:allocation\""), json);
      assertTrue(json.contains("\"description\": \"pcache test export\""), json);
    }
  }

  @Test
  void nbdinfoListsTheExport() throws IOException {
    Tools.require("nbdinfo");
    String out = Tools.run(T, "nbdinfo", "--list", server.uri().replace("/pcache", "")).ok().output();
    assertTrue(out.contains("export=\"pcache\"") && out.contains("pcache test export"), out);
    String map = Tools.run(T, "nbdinfo", "--map", server.uri()).ok().output();
    assertTrue(map.strip().matches("0\\s+" + SIZE + "\\s+0\\s+data"), "one allocated extent: " + map);
  }

  @Test
  void nbdcopyInAndOutAndQemuImgCompare() throws IOException {
    Tools.require("nbdcopy");
    SplittableRandom r = Seeds.random("RealClientTest.nbdcopy");
    byte[] data = new byte[(int) SIZE];
    Seeds.fill(r, data);
    for (int i = 0; i < 64; i++) { // some zero runs, which nbdcopy turns into zero requests
      java.util.Arrays.fill(data, i * (1 << 20), i * (1 << 20) + (i % 3) * 65536, (byte) 0);
    }
    Path src = dir.resolve("src.img");
    Path back = dir.resolve("back.img");
    Files.write(src, data);
    Tools.run(T, "nbdcopy", "--connections=4", "--requests=16", src.toString(), server.uri()).ok();
    assertEquals(-1, MemorySegment.ofArray(data).mismatch(device.memory()), "the device holds what was copied");
    Tools.run(T, "nbdcopy", server.unixUri(), back.toString()).ok();
    assertArrayEquals(data, Files.readAllBytes(back));
    Tools.require("qemu-img");
    String cmp = Tools.run(T, "qemu-img", "compare", "-f", "raw", "-F", "raw", src.toString(), server.uri()).ok()
        .output();
    assertTrue(cmp.contains("Images are identical"), cmp);
  }

  @Test
  void qemuIoReadsWritesFlushesDiscardsAndZeroes() throws IOException {
    Tools.require("qemu-io");
    for (String uri : List.of(server.uri(), server.unixUri())) {
      String out = Tools.run(T, "qemu-io", "-f", "raw", uri,
          "-c", "write -P 0xab 512 3584",
          "-c", "read -P 0xab 512 3584",
          "-c", "write -f -P 0xcd 1048576 4096",
          "-c", "flush",
          "-c", "read -P 0xcd 1048576 4096",
          "-c", "write -P 0x11 65536 16384",
          "-c", "discard 69632 8192",
          "-c", "read -P 0x11 65536 4096",
          "-c", "write -z 131072 65536",
          "-c", "read -P 0 131072 65536",
          "-c", "write -P 0xee 2097152 1048576",
          "-c", "aio_write -P 0x22 8388608 65536",
          "-c", "aio_flush",
          "-c", "read -P 0x22 8388608 65536",
          "-c", "read -P 0xee 2097664 1047552").ok().output();
      assertFalse(out.contains("failed") || out.contains("error"), out);
      assertEquals(6, out.lines().filter(l -> l.startsWith("read ")).count(), out);
    }
    assertTrue(device.fuaWrites.get() > 0, "qemu-io write -f sends FUA");
    assertTrue(device.discards.get() > 0);
    assertTrue(device.zeroes.get() > 0);
  }

  @Test
  void fioRandomReadWriteWithVerifyOverSeveralConnections() throws IOException {
    Tools.require("fio");
    Tools.Result r = Tools.run(T, "fio", "--name=verify", "--ioengine=nbd", "--uri=" + server.uri(),
        "--rw=randrw", "--bs=4k", "--size=8M", "--offset_increment=8M", "--numjobs=4", "--iodepth=16",
        "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0", "--group_reporting");
    assertEquals(0, r.exit(), r.output());
    assertTrue(r.output().contains("err= 0"), r.output());
    assertFalse(r.output().contains("verify: bad"), r.output());
    Tools.Result unix = Tools.run(T, "fio", "--name=unix", "--ioengine=nbd", "--uri=" + server.unixUri(),
        "--rw=randwrite", "--bsrange=512-64k", "--size=16M", "--numjobs=2", "--offset_increment=16M",
        "--iodepth=8", "--verify=crc32c", "--verify_fatal=1", "--verify_state_save=0", "--group_reporting");
    assertEquals(0, unix.exit(), unix.output());
  }

  /** nbdsh script prelude: a handle with strict mode off (so the server's own checks are seen). */
  private static String nbdsh(String uri, String body) {
    return """
        import errno
        h.add_meta_context("base:allocation")
        h.set_strict_mode(0)
        h.connect_uri("%s")
        def expect(name, errnum, fn):
            try:
                fn()
            except nbd.Error as e:
                assert e.errnum == errnum, "%%s: errno %%s, wanted %%s (%%s)" %% (name, e.errnum, errnum, e.string)
                return
            raise AssertionError(name + ": no error")
        """.formatted(uri) + body.stripIndent() + "\nprint('SCRIPT OK')\n";
  }

  @Test
  void nbdshProtocolCorners() throws IOException {
    Tools.require("nbdsh");
    String script = nbdsh(server.uri(), """
        size = h.get_size()
        assert h.can_df() and h.can_cache() and h.can_fast_zero() and h.can_multi_conn()
        assert h.get_structured_replies_negotiated()
        h.pwrite(b"\\x5a" * 8192, 4096, nbd.CMD_FLAG_FUA)
        chunks = []
        def chunk(sub, offset, status, err):
            chunks.append((len(sub), offset, status))
            return 0
        buf = h.pread_structured(8192, 4096, chunk, nbd.CMD_FLAG_DF)
        assert buf == b"\\x5a" * 8192, "data"
        assert chunks == [(8192, 4096, nbd.READ_DATA)], chunks
        extents = []
        def status(ctx, offset, entries, err):
            extents.append((ctx, offset, entries))
            return 0
        h.block_status(1 << 20, 0, status)
        h.block_status(1 << 20, 4096, status, nbd.CMD_FLAG_REQ_ONE)
        assert extents == [("base:allocation", 0, [1 << 20, 0]), ("base:allocation", 4096, [1 << 20, 0])], extents
        h.cache(1 << 20, 0)
        h.zero(1 << 20, 1 << 20, nbd.CMD_FLAG_FAST_ZERO)
        h.zero(65536, 0, nbd.CMD_FLAG_NO_HOLE | nbd.CMD_FLAG_FUA)
        assert h.pread(65536, 0) == bytes(65536)
        h.trim(65536, 0, nbd.CMD_FLAG_FUA)
        h.flush()
        expect("read past the end", errno.EINVAL, lambda: h.pread(512, size))
        expect("write past the end", errno.ENOSPC, lambda: h.pwrite(b"y" * 1024, size - 512))
        expect("zero past the end", errno.ENOSPC, lambda: h.zero(1024, size - 512))
        expect("misaligned read", errno.EINVAL, lambda: h.pread(100, 1))
        expect("oversized read", errno.EINVAL, lambda: h.pread((32 << 20) + 512, 0))
        expect("oversized write", errno.EINVAL, lambda: h.pwrite(bytes((32 << 20) + 512), 0))
        assert h.pread(512, 0) is not None, "the connection survives every error"
        h2 = nbd.NBD()
        h2.connect_uri("%s")
        h.pwrite(b"\\x77" * 4096, 12288)
        h2.flush()
        assert h2.pread(4096, 12288) == b"\\x77" * 4096, "multi-conn: one connection sees the other's writes"
        h2.shutdown()
        h.shutdown()
        """.formatted(server.unixUri()));
    Tools.Result r = Tools.run(T, "nbdsh", "-c", script);
    assertTrue(r.exit() == 0 && r.output().contains("SCRIPT OK"), r.output());
    assertTrue(device.prefetches.get() > 0, "NBD_CMD_CACHE reached prefetch");
  }

  @Test
  void nbdshTlsOptionalAndRequired(@TempDir Path serverDir) throws Exception {
    Tools.require("nbdsh");
    Path keystore = Keys.shared();
    Path keyDir = keystore.getParent();
    for (String mode : List.of("optional", "required")) {
      try (MemoryDevice d = new MemoryDevice("tls", 4 << 20);
          TestServer s = TestServer.start(d, Files.createDirectories(serverDir.resolve(mode)),
              Map.of(NbdSettings.TLS, mode, NbdSettings.TLS_KEYSTORE, keystore.toString(),
              NbdSettings.TLS_PASSWORD, Keys.PASSWORD))) {
        String script = """
            h.set_tls(nbd.TLS_REQUIRE)
            h.set_tls_certificates("%s")
            h.connect_tcp("127.0.0.1", "%d")
            assert h.get_tls_negotiated()
            h.pwrite(b"\\x42" * 65536, 0)
            h.flush()
            assert h.pread(65536, 0) == b"\\x42" * 65536
            h.shutdown()
            plain = nbd.NBD()
            plain.set_tls(nbd.TLS_DISABLE)
            try:
                plain.connect_tcp("127.0.0.1", "%d")
                tls_needed = False
                plain.shutdown()
            except nbd.Error as e:
                tls_needed = True
            print("PLAIN", "refused" if tls_needed else "served")
            print("SCRIPT OK")
            """.formatted(keyDir, s.port, s.port);
        Tools.Result r = Tools.run(T, "nbdsh", "-c", script);
        assertTrue(r.exit() == 0 && r.output().contains("SCRIPT OK"), mode + ": " + r.output());
        assertTrue(r.output().contains(mode.equals("required") ? "PLAIN refused" : "PLAIN served"), r.output());
      }
    }
  }

  @Test
  void readOnlyExportAsClientsSeeIt(@TempDir Path other) throws IOException {
    Tools.require("nbdinfo");
    try (MemoryDevice d = new MemoryDevice("ro", 1 << 20);
        TestServer s = TestServer.start(d, other, Map.of(NbdSettings.READ_ONLY, "true"))) {
      String json = Tools.run(T, "nbdinfo", "--json", s.uri()).ok().output();
      assertTrue(jsonBool(json, "is_read_only"), json);
      assertFalse(jsonBool(json, "can_trim"), json);
      Tools.require("qemu-io");
      Tools.Result w = Tools.run(T, "qemu-io", "-f", "raw", s.uri(), "-c", "write -P 1 0 512");
      System.out.println("qemu-io on a read-only export: " + w.output());
      assertTrue(w.exit() != 0 || w.output().contains("failed"), w.output());
    }
  }
}
