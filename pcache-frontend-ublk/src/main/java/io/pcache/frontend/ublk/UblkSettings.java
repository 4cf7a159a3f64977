package io.pcache.frontend.ublk;

import io.pcache.api.Config;

/**
 * The ublk front-end's settings, read from the {@code ublk.*} keys (see {@link UblkFrontendProvider}).
 *
 * @param devId the device id ({@code /dev/ublkbN}), or -1 to let the kernel choose
 * @param queues hardware queues, each served by its own thread and io_uring (the kernel caps it at the CPU count)
 * @param depth requests in flight per queue (tags)
 * @param maxIo the largest request in bytes, a multiple of 4096: also each tag's buffer size
 */
record UblkSettings(int devId, int queues, int depth, int maxIo) {

  static final String DEV_ID = "ublk.dev-id";
  static final String QUEUES = "ublk.queues";
  static final String QUEUE_DEPTH = "ublk.queue-depth";
  static final String MAX_IO = "ublk.max-io";

  UblkSettings {
    if (devId < -1) {
      throw new IllegalArgumentException(DEV_ID + " = " + devId + ": use -1 (the kernel chooses) or an id from 0");
    }
    if (queues < 1 || queues > 4096) {
      throw new IllegalArgumentException(QUEUES + " = " + queues + ": must be from 1 to 4096");
    }
    if (depth < 1 || depth > Uapi.MAX_QUEUE_DEPTH) {
      throw new IllegalArgumentException(QUEUE_DEPTH + " = " + depth + ": must be from 1 to " + Uapi.MAX_QUEUE_DEPTH);
    }
    if (maxIo < 4096 || maxIo > Uapi.MAX_IO_BUF_BYTES || maxIo % 4096 != 0) {
      throw new IllegalArgumentException(MAX_IO + " = " + maxIo + ": must be a multiple of 4K from 4K to 32M");
    }
  }

  /** Reads and checks the keys. */
  static UblkSettings from(Config config) {
    long maxIo = config.getSize(MAX_IO);
    if (maxIo > Uapi.MAX_IO_BUF_BYTES || maxIo < 0) {
      throw new IllegalArgumentException(MAX_IO + " = " + maxIo + ": must be a multiple of 4K from 4K to 32M");
    }
    return new UblkSettings(config.getInt(DEV_ID), config.getInt(QUEUES), config.getInt(QUEUE_DEPTH), (int) maxIo);
  }

  /** Native memory for the tag buffers: {@code queues * depth * maxIo}. */
  long bufferBytes() {
    return (long) queues * depth * maxIo;
  }
}
