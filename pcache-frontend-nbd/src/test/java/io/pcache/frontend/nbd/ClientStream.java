package io.pcache.frontend.nbd;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/** Builds the byte stream a client sends, frame by frame. */
final class ClientStream {

  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  private final DataOutputStream out = new DataOutputStream(bytes);

  ClientStream clientFlags(int flags) {
    return io(() -> out.writeInt(flags));
  }

  ClientStream option(int code, byte[] data) {
    return io(() -> {
      out.writeLong(Nbd.IHAVEOPT);
      out.writeInt(code);
      out.writeInt(data.length);
      out.write(data);
    });
  }

  ClientStream request(int flags, int type, long cookie, long offset, long length) {
    return io(() -> {
      out.writeInt(Nbd.REQUEST_MAGIC);
      out.writeShort(flags);
      out.writeShort(type);
      out.writeLong(cookie);
      out.writeLong(offset);
      out.writeInt((int) length);
    });
  }

  ClientStream write(int flags, long cookie, long offset, byte[] data) {
    request(flags, Nbd.CMD_WRITE, cookie, offset, data.length);
    return io(() -> out.write(data));
  }

  ClientStream raw(byte[] data) {
    return io(() -> out.write(data));
  }

  byte[] bytes() {
    return bytes.toByteArray();
  }

  private interface IoAction {
    void run() throws IOException;
  }

  private ClientStream io(IoAction a) {
    try {
      a.run();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return this;
  }
}
