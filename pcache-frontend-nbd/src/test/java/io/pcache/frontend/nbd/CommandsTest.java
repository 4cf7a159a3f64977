package io.pcache.frontend.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pcache.api.BlockDevice.Feature;
import io.pcache.api.BlockIOException;
import io.pcache.api.BlockIOException.Errno;
import io.pcache.frontend.nbd.BufferPool.Buf;
import io.pcache.frontend.nbd.Commands.Rejection;
import io.pcache.frontend.nbd.NbdDecoder.Header;
import io.pcache.frontend.nbd.NbdDecoder.Payload;
import io.pcache.frontend.nbd.Negotiation.Session;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.EnumSet;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Request checks, device calls, replies and error mapping, without sockets. */
class CommandsTest {

  private static final long SIZE = 1 << 20;
  private static final int MAX = 64 << 10;

  private final MemoryDevice device = new MemoryDevice("mem", SIZE);
  private final BufferPool pool = new BufferPool();

  @AfterEach
  void free() {
    assertEquals(0, pool.outstanding(), "buffers not released");
    pool.close();
    device.close();
  }

  private Commands commands(boolean structured, boolean readOnly, boolean meta) {
    Export e = new Export("pcache", "", device, readOnly);
    return new Commands(new Session(e, structured, meta ? 1 : -1, false, e.transmissionFlags(structured)), MAX, pool,
        "test");
  }

  /** Runs one request and returns the reply bytes. */
  private static byte[] serve(Commands c, Header h, Payload p, Buf payload) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int[] replies = new int[1];
    c.serve(h, p, payload, (done, buffers) -> {
      for (ByteBuffer b : buffers) {
        byte[] a = new byte[b.remaining()];
        b.get(a);
        out.write(a, 0, a.length);
      }
      replies[0]++;
      done.run();
    });
    assertEquals(1, replies[0], "exactly one reply per request");
    return out.toByteArray();
  }

  private static Header h(int flags, int type, long offset, long length) {
    return new Header(flags, type, 0x1122334455667788L, offset, length);
  }

  @ParameterizedTest(name = "{0} flags {1} offset {2} length {3} (sr {4}, ro {5}, meta {6}) -> {7}")
  @CsvSource({
      // type, flags, offset, length, structured, readOnly, meta, expected error
      "0, 0, 0, 4096, false, false, false, 0",
      "0, 0, 0, 0, false, false, false, 0",
      "0, 1, 0, 4096, false, false, false, 0", // FUA accepted on any command
      "0, 4, 0, 4096, true, false, false, 0", // DF with structured replies
      "0, 4, 0, 4096, false, false, false, 22", // DF without them
      "0, 0, 0, 65536, false, false, false, 0",
      "0, 0, 0, 66048, false, false, false, 22", // over the payload limit
      "0, 0, 100, 512, false, false, false, 22", // misaligned offset
      "0, 0, 0, 100, false, false, false, 22", // misaligned length
      "0, 0, 1048064, 1024, false, false, false, 22", // read beyond the end
      "0, 0, -512, 1024, false, false, false, 22", // offset above 2^63
      "1, 0, 1048064, 1024, false, false, false, 28", // write beyond the end: ENOSPC
      "1, 0, 0, 512, false, true, false, 1", // write on read-only: EPERM
      "1, 1, 0, 512, false, true, false, 22", // FUA not offered on read-only
      "3, 0, 0, 0, false, false, false, 0",
      "3, 0, 0, 512, false, false, false, 22", // flush with a length
      "3, 0, 0, 0, false, true, false, 0", // flush on read-only is fine
      "4, 0, 0, 1048576, false, false, false, 0", // trim longer than the payload limit is fine
      "4, 0, 0, 1049600, false, false, false, 22", // trim beyond the end
      "4, 0, 0, 512, false, true, false, 1",
      "4, 2, 0, 512, false, false, false, 22", // NO_HOLE is not for trim
      "5, 0, 0, 4096, false, false, false, 0",
      "5, 0, 4096, 1048576, false, false, false, 22", // cache beyond the end
      "6, 2, 0, 1048576, false, false, false, 0", // write zeroes, NO_HOLE
      "6, 16, 0, 4096, false, false, false, 0", // FAST_ZERO
      "6, 19, 0, 4096, false, false, false, 0", // FUA | NO_HOLE | FAST_ZERO
      "6, 0, 1048064, 1024, false, false, false, 28", // beyond the end: ENOSPC
      "6, 0, 0, 512, false, true, false, 1",
      "7, 0, 0, 4096, true, false, true, 0",
      "7, 8, 0, 4096, true, false, true, 0", // REQ_ONE
      "7, 0, 0, 4096, true, false, false, 22", // no context selected
      "7, 0, 0, 0, true, false, true, 22", // an extent cannot be empty
      "7, 0, 0, 2097152, true, false, true, 22", // beyond the end
      "8, 0, 0, 0, false, false, false, 22", // RESIZE: unknown
      "9, 0, 0, 0, false, false, false, 22",
      "65535, 0, 0, 0, false, false, false, 22",
      "0, 32, 0, 512, false, false, false, 22", // unknown flag
      "0, 32768, 0, 512, true, false, false, 22",
  })
  void checks(int type, int flags, long offset, long length, boolean structured, boolean readOnly, boolean meta,
      int expected) {
    Rejection r = commands(structured, readOnly, meta).check(h(flags, type, offset, length), Payload.NONE);
    assertEquals(expected, r == null ? 0 : r.error(), () -> r == null ? "accepted" : r.message());
  }

  @Test
  void discardedWritePayloadIsInvalidAndFeaturesNotOfferedAreInvalid() {
    Rejection r = commands(false, false, false).check(h(0, Nbd.CMD_WRITE, 0, MAX + 512), Payload.DISCARDED);
    assertEquals(Nbd.EINVAL, r.error());
    assertTrue(r.message().contains("exceeds the maximum payload"), r.message());
    try (MemoryDevice bare = new MemoryDevice("bare", 4096, EnumSet.noneOf(Feature.class))) {
      Export e = new Export("bare", "", bare, false);
      Commands c = new Commands(new Session(e, false, -1, false, e.transmissionFlags(false)), MAX, pool, "t");
      for (int type : new int[] {Nbd.CMD_FLUSH, Nbd.CMD_TRIM, Nbd.CMD_WRITE_ZEROES}) {
        assertEquals(Nbd.EINVAL, c.check(h(0, type, 0, 0), Payload.NONE).error(), Nbd.commandName(type));
      }
      assertEquals(Nbd.EINVAL, c.check(h(Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, 0, 512), Payload.NONE).error(), "no FUA");
      assertNull(c.check(h(0, Nbd.CMD_CACHE, 0, 512), Payload.NONE), "CACHE is accepted even when not offered");
    }
  }

  @Test
  void simpleReadReply() throws Exception {
    device.memory().asSlice(512, 512).fill((byte) 0x5a);
    byte[] reply = serve(commands(false, false, false), h(0, Nbd.CMD_READ, 512, 512), Payload.NONE, null);
    assertEquals(16 + 512, reply.length);
    assertEquals("67446698" + "00000000" + "1122334455667788", HexFormat.of().formatHex(reply, 0, 16));
    for (int i = 16; i < reply.length; i++) {
      assertEquals(0x5a, reply[i]);
    }
  }

  @Test
  void structuredReadIsOneDataChunk() throws Exception {
    device.memory().asSlice(4096, 1024).fill((byte) 0x33);
    byte[] reply = serve(commands(true, false, false), h(Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 4096, 1024), Payload.NONE,
        null);
    assertEquals(20 + 8 + 1024, reply.length);
    assertEquals("668e33ef" + "0001" + "0001" + "1122334455667788" + "00000408" + "0000000000001000",
        HexFormat.of().formatHex(reply, 0, 28));
    assertEquals(0x33, reply[28]);
    assertEquals(0x33, reply[reply.length - 1]);
  }

  @Test
  void emptyReads() throws Exception {
    assertEquals("668e33ef" + "0001" + "0000" + "1122334455667788" + "00000000",
        HexFormat.of().formatHex(serve(commands(true, false, false), h(0, Nbd.CMD_READ, 0, 0), Payload.NONE, null)));
    assertEquals(16, serve(commands(false, false, false), h(0, Nbd.CMD_READ, 0, 0), Payload.NONE, null).length);
  }

  @Test
  void writeWithFuaReachesTheDevice() throws Exception {
    Buf b = pool.acquire(1024);
    b.payload(1024).fill((byte) 7);
    byte[] reply = serve(commands(true, false, false), h(Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, 2048, 1024),
        Payload.ATTACHED, b);
    pool.release(b);
    assertEquals("67446698" + "00000000" + "1122334455667788", HexFormat.of().formatHex(reply));
    assertEquals(7, device.memory().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 2048 + 1023));
    assertEquals(1, device.fuaWrites.get());
  }

  @Test
  void trimWithFuaFlushesAndZeroesPassFua() throws Exception {
    Commands c = commands(false, false, false);
    serve(c, h(Nbd.CMD_FLAG_FUA, Nbd.CMD_TRIM, 0, 4096), Payload.NONE, null);
    assertEquals(1, device.discards.get());
    assertEquals(1, device.flushes.get());
    serve(c, h(Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_NO_HOLE, Nbd.CMD_WRITE_ZEROES, 0, 4096), Payload.NONE, null);
    assertEquals(1, device.fuaZeroes.get());
    serve(c, h(0, Nbd.CMD_CACHE, 0, 8192), Payload.NONE, null);
    assertEquals(1, device.prefetches.get());
    serve(c, h(0, Nbd.CMD_TRIM, 0, 0), Payload.NONE, null);
    assertEquals(1, device.discards.get(), "an empty trim does not reach the device");
  }

  @Test
  void blockStatusIsOneAllocatedExtent() throws Exception {
    byte[] reply = serve(commands(true, false, true), h(Nbd.CMD_FLAG_REQ_ONE, Nbd.CMD_BLOCK_STATUS, 4096, 65536),
        Payload.NONE, null);
    assertEquals("668e33ef" + "0001" + "0005" + "1122334455667788" + "0000000c" + "00000001" + "00010000" + "00000000",
        HexFormat.of().formatHex(reply));
  }

  @ParameterizedTest(name = "{0} on {1} (flags {2}) -> {3}")
  @CsvSource({
      "EIO, 0, 0, 5",
      "EINVAL, 0, 0, 22",
      "ENOSPC, 1, 0, 28",
      "ESHUTDOWN, 0, 0, 108",
      "EOVERFLOW, 0, 0, 22", // EOVERFLOW only for DF reads
      "EOVERFLOW, 0, 4, 75",
      "ENOTSUP, 6, 0, 22", // ENOTSUP only with FAST_ZERO
      "ENOTSUP, 6, 16, 95",
      "ENOTSUP, 4, 0, 22",
  })
  void deviceErrorsMapToNbdErrors(Errno errno, int type, int flags, int expected) throws Exception {
    device.hook((op, offset, length) -> {
      throw new BlockIOException(errno, "mem", offset, length, "injected");
    });
    Buf payload = type == Nbd.CMD_WRITE ? pool.acquire(512) : null;
    try {
      byte[] reply = serve(commands(true, false, false), h(flags, type, 0, 512),
          payload == null ? Payload.NONE : Payload.ATTACHED, payload);
      ByteBuffer b = ByteBuffer.wrap(reply);
      assertEquals(Nbd.STRUCTURED_REPLY_MAGIC, b.getInt(0));
      assertEquals(Nbd.REPLY_TYPE_ERROR, Short.toUnsignedInt(b.getShort(6)));
      assertEquals(expected, b.getInt(20));
      String message = new String(reply, 26, b.getShort(24), java.nio.charset.StandardCharsets.UTF_8);
      assertTrue(message.contains("injected") && message.contains("on mem at offset 0 length 512"), message);
    } finally {
      if (payload != null) {
        pool.release(payload);
      }
    }
  }

  @Test
  void simpleErrorsAndUnexpectedExceptions() throws Exception {
    device.hook((op, offset, length) -> {
      throw new IllegalStateException("bug");
    });
    byte[] reply = serve(commands(false, false, false), h(0, Nbd.CMD_READ, 0, 4096), Payload.NONE, null);
    assertEquals("67446698" + "00000005" + "1122334455667788", HexFormat.of().formatHex(reply),
        "a failed simple read sends no data");
    byte[] flush = serve(commands(false, false, false), h(0, Nbd.CMD_FLUSH, 0, 0), Payload.NONE, null);
    assertEquals(Nbd.EIO, ByteBuffer.wrap(flush).getInt(4));
  }

  @Test
  void errorCodesFollowTheSpecification() {
    Header plain = h(0, Nbd.CMD_WRITE, 0, 512);
    assertEquals(Nbd.ENOSPC, Commands.errorFor(Errno.ENOSPC, plain));
    assertEquals(Nbd.EINVAL, Commands.errorFor(Errno.ENOTSUP, plain));
    assertEquals(Nbd.EINVAL, Commands.errorFor(Errno.EOVERFLOW, plain));
  }

  /** Runs one request through {@link Commands#tryServe}; null when it was not quick (and sent nothing). */
  private static byte[] tryServe(Commands c, Header h, Payload p, Buf payload) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int[] replies = new int[1];
    boolean done = c.tryServe(h, p, payload, (finished, buffers) -> {
      for (ByteBuffer b : buffers) {
        byte[] a = new byte[b.remaining()];
        b.get(a);
        out.write(a, 0, a.length);
      }
      replies[0]++;
      finished.run();
    });
    assertEquals(done ? 1 : 0, replies[0], "one reply when run, none when handed on");
    return done ? out.toByteArray() : null;
  }

  @Test
  void quickRequestsRunAtOnceAndTheOthersAreHandedOn() {
    Commands c = commands(false, false, true);
    Buf payload = pool.acquire(512);
    try {
      payload.payload(512).fill((byte) 7);
      assertEquals(16, tryServe(c, h(0, Nbd.CMD_WRITE, 512, 512), Payload.ATTACHED, payload).length);
      byte[] read = tryServe(c, h(0, Nbd.CMD_READ, 512, 512), Payload.NONE, null);
      assertEquals(16 + 512, read.length);
      assertEquals(7, read[16 + 511]);
      assertEquals(16, tryServe(c, h(0, Nbd.CMD_FLUSH, 0, 0), Payload.NONE, null).length);
      assertEquals(3, device.quick.get(), "read, write and flush through the device's try variants");
      assertEquals(Nbd.EINVAL, ByteBuffer.wrap(tryServe(c, h(0, Nbd.CMD_READ, 100, 512), Payload.NONE, null))
          .getInt(4), "a refusal is quick");
      assertEquals(16, tryServe(c, h(0, Nbd.CMD_TRIM, 0, 0), Payload.NONE, null).length, "nothing to trim");
      assertNull(tryServe(c, h(0, Nbd.CMD_TRIM, 0, 512), Payload.NONE, null), "a trim goes to a worker");
      assertNull(tryServe(c, h(0, Nbd.CMD_WRITE_ZEROES, 0, 512), Payload.NONE, null));
      assertEquals(0, device.discards.get() + device.zeroes.get(), "handed on untouched");

      device.hook((op, offset, length) -> { }); // a hook: nothing is quick any more
      assertNull(tryServe(c, h(0, Nbd.CMD_READ, 512, 512), Payload.NONE, null));
      assertNull(tryServe(c, h(0, Nbd.CMD_WRITE, 512, 512), Payload.ATTACHED, payload));
      assertNull(tryServe(c, h(0, Nbd.CMD_FLUSH, 0, 0), Payload.NONE, null));
      assertEquals(3, device.quick.get());
      device.hook(new MemoryDevice.Hook() {
        @Override
        public void before(String op, long offset, long length) throws BlockIOException {
          throw new BlockIOException(Errno.EIO, "mem", offset, length, "injected");
        }

        @Override
        public boolean quick(String op, long offset, long length) {
          return true;
        }
      });
      assertEquals(Nbd.EIO, ByteBuffer.wrap(tryServe(c, h(0, Nbd.CMD_READ, 512, 512), Payload.NONE, null))
          .getInt(4), "an error of the quick variant is the reply");
    } finally {
      pool.release(payload);
    }
  }

  @Test
  void bufferCost() {
    Commands c = commands(false, false, false);
    assertEquals(4096, c.bufferCost(h(0, Nbd.CMD_READ, 0, 4096)));
    assertEquals(0, c.bufferCost(h(0, Nbd.CMD_READ, 0, MAX + 512)), "refused without a buffer");
    assertEquals(0, c.bufferCost(h(0, Nbd.CMD_TRIM, 0, 4096)));
  }
}
