package io.pcache.backing.block;

import io.pcache.api.BlockIOException;
import io.pcache.api.BlockIOException.Errno;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingIdentity;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A {@link BackingDevice} on an open file descriptor of a block device or a regular image file,
 * made by {@link DeviceOpener}.
 *
 * <h2>How requests run</h2>
 *
 * <ul>
 *   <li>Reads and writes are {@code pread}/{@code pwrite} on the descriptor, at the native address
 *       of the caller's segment. Heap segments, and with O_DIRECT native segments not aligned as
 *       the file needs, go through {@link BouncePool} buffers of 256 KiB, chunk by chunk. Short
 *       transfers are continued, {@code EINTR} is retried, and a {@code pread} that returns 0
 *       before the end of the device is {@link Errno#EIO} (the file was truncated under us).
 *   <li>No {@code FileChannel}: an interrupted caller makes a FileChannel close itself, for every
 *       thread. Here an interrupt changes nothing (the status is kept for the caller).
 *   <li>System calls made for virtual threads run on {@link IoThreads} platform threads, so that
 *       a slow disk cannot pin every carrier thread. A buffered read first tries {@code
 *       preadv2(RWF_NOWAIT)} on the virtual thread itself, which returns what the page cache
 *       holds and never waits for the device. Bounce copies stay on the caller's thread: its
 *       segments may be confined to it.
 *   <li>Nothing serialises requests: {@link InFlight} is one atomic add per request, only {@link
 *       #close()} waits (for the requests inside, so that the descriptor number cannot be reused
 *       under them).
 *   <li>{@code discard}: {@code BLKDISCARD} on block devices, {@code fallocate(PUNCH_HOLE |
 *       KEEP_SIZE)} on files; {@code EOPNOTSUPP} makes it a no-op from then on (discard is
 *       advisory). {@code writeZeroes}: {@code BLKZEROOUT} on block devices; on files {@code
 *       fallocate(ZERO_RANGE)}, else {@code PUNCH_HOLE | KEEP_SIZE}; when the device supports
 *       neither, 1 MiB {@code pwrite}s of zeroes. The first method that works is remembered.
 *   <li>{@code flush} is {@code fdatasync}, which on a block device also flushes the disk's
 *       volatile write cache.
 *   <li>{@link #size()} is the size at open and bounds every request; {@link #currentSize()}
 *       measures the device again ({@code statx} or {@code BLKGETSIZE64}), so that writeback can
 *       see an image file truncated under it. A {@code pwrite} past the end of a truncated file
 *       succeeds and extends it again: only the caller can tell that it should not write there.
 * </ul>
 *
 * <h2>Implementation notes (measured)</h2>
 *
 * <p>Measured by {@code NativeCallBenchmark} (this module's tests) on the 2-core development VM:
 * Linux 6.18, ext4 on virtio, JDK 25, jnr-ffi 2.3.4; 4 KiB at random offsets of a 64 MiB file in
 * the page cache; median of 200 batches of 1,000 calls after warm-up, range over 3 runs. The VM
 * was shared with other builds (load average 5 to 15), so treat the last digit loosely.
 *
 * <table class="striped">
 *   <caption>One call, one thread</caption>
 *   <tr><th>what</th><th>median</th></tr>
 *   <tr><td>{@code getpid()} through jnr: the cost of a jnr call with its errno save</td><td>170–240 ns</td></tr>
 *   <tr><td>{@code pread} 4 KiB through jnr, native memory</td><td>1.10–1.49 µs</td></tr>
 *   <tr><td>{@code FileChannel.read} 4 KiB, direct ByteBuffer (for comparison)</td><td>1.13–1.72 µs</td></tr>
 *   <tr><td>{@code pwrite} 4 KiB through jnr</td><td>1.47–1.56 µs</td></tr>
 *   <tr><td>{@code FileChannel.write} 4 KiB, direct ByteBuffer</td><td>1.66–1.69 µs</td></tr>
 *   <tr><td>{@link #read}, platform thread, native segment</td><td>1.12 µs</td></tr>
 *   <tr><td>{@link #read}, platform thread, heap segment (bounce copy)</td><td>1.27–1.35 µs</td></tr>
 *   <tr><td>{@link #read}, virtual thread, page-cache hit ({@code RWF_NOWAIT}, no hand-off)</td><td>1.33–1.46 µs</td></tr>
 *   <tr><td>{@link #write}, virtual thread (hand-off to {@link IoThreads})</td><td>16–33 µs</td></tr>
 *   <tr><td>{@link #read}, virtual thread, before the {@code RWF_NOWAIT} path (hand-off)</td><td>20 µs</td></tr>
 * </table>
 *
 * <table class="striped">
 *   <caption>Throughput, 4 KiB, 64 virtual threads (noisy: 2 cores shared)</caption>
 *   <tr><th>what</th><th>ops/s</th></tr>
 *   <tr><td>{@link #read} (page-cache hits served on the virtual thread)</td><td>0.74–1.39 M</td></tr>
 *   <tr><td>raw jnr {@code pread} on the virtual threads (pinning)</td><td>1.1–1.7 M</td></tr>
 *   <tr><td>{@link #write} (every call handed off)</td><td>0.41 M</td></tr>
 *   <tr><td>raw jnr {@code pwrite} on the virtual threads (pinning)</td><td>0.66 M</td></tr>
 * </table>
 *
 * <p>What follows from them: a jnr call costs about 0.2 µs, so pread/pwrite through jnr are at
 * parity with FileChannel (which we cannot use: it closes on interrupt). The hand-off off a virtual
 * thread costs 15–30 µs when idle (two thread wake-ups in a VM) and about 40 % of throughput under
 * load, which is noise against a disk (0.1–10 ms) but 15 times a page-cache hit; hence the {@code
 * RWF_NOWAIT} try first. Buffered {@code pwritev2(RWF_NOWAIT)} returns {@code EOPNOTSUPP} on ext4,
 * tmpfs and loop devices (Linux 6.18), so writes from virtual threads always hand off; reads with
 * {@code RWF_NOWAIT} work on ext4 and block devices, not on tmpfs (then every read hands off).
 * Pinning instead would be faster while everything is cached, and would stop the whole process
 * (NBD sockets included) as soon as two requests wait for a disk on this 2-core machine.
 */
final class BlockBackingDevice implements BackingDevice {

  /** What the descriptor is open on. */
  enum Kind {
    BLOCK_DEVICE,
    REGULAR_FILE
  }

  /** How {@link #writeZeroes} zeroes, in the order tried. */
  private enum Zeroing {
    BLKZEROOUT,
    ZERO_RANGE,
    PUNCH_HOLE,
    WRITE
  }

  /** 1 MiB of zeroes for the {@link Zeroing#WRITE} fallback; page-aligned for O_DIRECT. */
  private static final class Zeroes {
    static final MemorySegment BUFFER = Arena.global().allocate(1 << 20, BouncePool.ALIGNMENT);
  }

  private final String name;
  private final int fd;
  private final Kind kind;
  private final long size;
  private final int blockSize;
  private final int memoryAlignment;
  private final boolean directIo;
  private final boolean readOnly;
  private final BackingIdentity identity;
  private final InFlight inFlight = new InFlight();
  private final BouncePool bounces = new BouncePool();
  private volatile boolean discardUnsupported;
  /** Whether to try {@code RWF_NOWAIT} reads first (buffered I/O only: O_DIRECT reads always wait for the device). */
  private volatile boolean nowaitReads;
  private volatile Zeroing zeroing;

  /**
   * @param memoryAlignment the address alignment the kernel needs (O_DIRECT), 1 for none
   * @param directIo whether {@code fd} was opened with O_DIRECT
   * @param identity what the device is ({@link DeviceIdentity})
   */
  BlockBackingDevice(String name, int fd, Kind kind, long size, int blockSize, int memoryAlignment, boolean directIo, boolean readOnly,
      BackingIdentity identity) {
    this.name = name;
    this.identity = identity;
    this.fd = fd;
    this.kind = kind;
    this.size = size;
    this.blockSize = blockSize;
    this.memoryAlignment = memoryAlignment;
    this.directIo = directIo;
    this.readOnly = readOnly;
    this.zeroing = kind == Kind.BLOCK_DEVICE ? Zeroing.BLKZEROOUT : Zeroing.ZERO_RANGE;
    this.nowaitReads = !directIo;
  }

  @Override
  public String name() {
    return name;
  }

  /** Worked out while opening: see {@link DeviceIdentity}. */
  @Override
  public BackingIdentity identity() {
    return identity;
  }

  @Override
  public long size() {
    return size;
  }

  /** {@code BLKGETSIZE64} on a block device, {@code statx} on the descriptor of an image file. */
  @Override
  public long currentSize() throws BlockIOException {
    if (!inFlight.enter()) {
      throw closed("currentSize", 0, 0);
    }
    try {
      long bytes;
      if (kind == Kind.BLOCK_DEVICE) {
        try (Arena arena = Arena.ofConfined()) {
          MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG);
          int r = Posix.ioctl(fd, Posix.BLKGETSIZE64, out);
          if (r < 0) {
            throw failure("ioctl(BLKGETSIZE64)", -r, 0, 0, 0);
          }
          bytes = out.get(ValueLayout.JAVA_LONG, 0);
        }
      } else {
        bytes = FileStat.ofFd(fd).size();
      }
      return bytes / blockSize * blockSize;
    } catch (ErrnoException e) {
      throw failure("statx", e.errno(), 0, 0, 0);
    } finally {
      inFlight.leave();
    }
  }

  @Override
  public int logicalBlockSize() {
    return blockSize;
  }

  /** What the device is open on. */
  Kind kind() {
    return kind;
  }

  /** Whether reads from virtual threads still try {@code RWF_NOWAIT} first. */
  boolean nowaitReads() {
    return nowaitReads;
  }

  /** Whether the descriptor was opened with O_DIRECT. */
  boolean directIo() {
    return directIo;
  }

  @Override
  public void read(long offset, MemorySegment dst) throws BlockIOException {
    long length = dst.byteSize();
    check("read", offset, length);
    if (dst.isReadOnly()) {
      throw new IllegalArgumentException("read from " + name + " into a read-only segment");
    }
    if (empty("read", offset, length)) {
      return;
    }
    run("read", offset, length, () -> transfer(true, offset, dst));
  }

  @Override
  public void write(long offset, MemorySegment src) throws BlockIOException {
    long length = src.byteSize();
    check("write", offset, length);
    checkWritable("write", offset, length);
    if (empty("write", offset, length)) {
      return;
    }
    run("write", offset, length, () -> transfer(false, offset, src));
  }

  @Override
  public void flush() throws BlockIOException {
    run("flush", 0, size, () -> IoThreads.run(() -> {
      int r;
      do {
        r = Posix.fdatasync(fd);
      } while (r == -Posix.EINTR);
      if (r < 0) {
        throw failure("fdatasync", -r, 0, 0, size);
      }
    }));
  }

  @Override
  public void discard(long offset, long length) throws BlockIOException {
    check("discard", offset, length);
    checkWritable("discard", offset, length);
    if (empty("discard", offset, discardUnsupported ? 0 : length)) {
      return; // nothing to discard, or a device that cannot (still refused once closed)
    }
    run("discard", offset, length, () -> IoThreads.run(() -> {
      int r = kind == Kind.BLOCK_DEVICE
          ? rangeIoctl(Posix.BLKDISCARD, offset, length)
          : fallocate(Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE, offset, length);
      if (unsupported(r)) {
        discardUnsupported = true;
      } else if (r < 0) {
        throw failure(kind == Kind.BLOCK_DEVICE ? "ioctl(BLKDISCARD)" : "fallocate(PUNCH_HOLE)", -r, offset, offset, length);
      }
    }));
  }

  @Override
  public void writeZeroes(long offset, long length) throws BlockIOException {
    check("writeZeroes", offset, length);
    checkWritable("writeZeroes", offset, length);
    if (empty("writeZeroes", offset, length)) {
      return;
    }
    run("writeZeroes", offset, length, () -> IoThreads.run(() -> zero(offset, length)));
  }

  /** Releases the descriptor, its flock and its O_EXCL claim, after the requests inside end. Does not flush. */
  @Override
  public void close() throws IOException {
    if (inFlight.close()) {
      int r = Posix.close(fd);
      if (r < 0 && r != -Posix.EINTR) {
        throw new IOException("closing backing device " + name + ": " + Posix.describe(-r));
      }
    }
  }

  @Override
  public String toString() {
    return name + " (" + kind + ", " + size + " bytes, block " + blockSize + (directIo() ? ", O_DIRECT" : "") + (readOnly ? ", read-only" : "") + ")";
  }

  // ---------------------------------------------------------------------------------------------

  private void check(String op, long offset, long length) throws BlockIOException {
    BlockIOException.checkRange(name, size, offset, length);
    if (((offset | length) & (blockSize - 1)) != 0) {
      throw new BlockIOException(Errno.EINVAL, name, offset, length, op + " not aligned to the logical block size " + blockSize);
    }
  }

  /** An empty request: nothing to do, but a closed device still says so. */
  private boolean empty(String op, long offset, long length) throws BlockIOException {
    if (length != 0) {
      return false;
    }
    if (inFlight.isClosed()) {
      throw closed(op, offset, length);
    }
    return true;
  }

  private BlockIOException closed(String op, long offset, long length) {
    return new BlockIOException(Errno.ESHUTDOWN, name, offset, length, op + " refused: the device is closed");
  }

  private void checkWritable(String op, long offset, long length) throws BlockIOException {
    if (readOnly) {
      throw new BlockIOException(Errno.ENOTSUP, name, offset, length, op + " refused: the device is open read-only");
    }
  }

  /**
   * Runs {@code body} as one operation on the descriptor. The body touches the caller's segments
   * on this thread (they may be confined to it) and passes only its system calls to {@link
   * IoThreads#run}.
   */
  private void run(String op, long offset, long length, IoThreads.BlockingCall body) throws BlockIOException {
    if (!inFlight.enter()) {
      throw closed(op, offset, length);
    }
    try {
      body.run();
    } finally {
      inFlight.leave();
    }
  }

  /**
   * Reads into or writes from {@code segment}: directly when the kernel can use its memory, else
   * chunk by chunk through a bounce buffer, copying on this thread.
   */
  private void transfer(boolean read, long offset, MemorySegment segment) throws BlockIOException {
    long length = segment.byteSize();
    if (segment.isNative() && segment.address() % memoryAlignment == 0) {
      // The caller waits in IoThreads.run, so its segment (even a confined one) stays alive.
      syscall(read, segment.address(), length, offset, offset, length);
      return;
    }
    MemorySegment bounce = bounces.acquire();
    try {
      long address = bounce.address();
      for (long done = 0; done < length; done += BouncePool.CHUNK) {
        long at = done;
        long n = Math.min(BouncePool.CHUNK, length - done);
        if (!read) {
          MemorySegment.copy(segment, at, bounce, 0, n);
        }
        syscall(read, address, n, offset + at, offset, length);
        if (read) {
          MemorySegment.copy(bounce, 0, segment, at, n);
        }
      }
    } finally {
      bounces.release(bounce);
    }
  }

  /**
   * Transfers {@code count} bytes at {@code position} on a platform thread ({@link IoThreads}).
   * A buffered read from a virtual thread first tries {@code preadv2(RWF_NOWAIT)} right here: what
   * the page cache holds comes back in about a microsecond, without the hand-off (about 20 µs).
   */
  private void syscall(boolean read, long address, long count, long position, long offset, long length) throws BlockIOException {
    long done = 0;
    if (read && nowaitReads && Thread.currentThread().isVirtual()) {
      long n = Posix.preadNowait(fd, address, count, position);
      if (n > 0) {
        done = n;
      } else if (n == -Posix.EOPNOTSUPP || n == -Posix.EINVAL) {
        nowaitReads = false; // tmpfs, some devices: always hand off
      } // EAGAIN, EINTR, 0, errors: the blocking call below decides
    }
    if (done < count) {
      long from = done;
      IoThreads.run(() -> transferFully(read, address + from, count - from, position + from, offset, length));
    }
  }

  /** One {@code pread}/{@code pwrite} of {@code count} bytes at {@code position}, continued until done. */
  private void transferFully(boolean read, long address, long count, long position, long offset, long length) throws BlockIOException {
    long done = 0;
    while (done < count) {
      long n = read
          ? Posix.pread(fd, address + done, count - done, position + done)
          : Posix.pwrite(fd, address + done, count - done, position + done);
      if (n > 0) {
        done += n;
      } else if (n == 0) {
        throw new BlockIOException(Errno.EIO, name, offset, length, (read ? "pread" : "pwrite") + " at offset " + (position + done)
            + " transferred nothing: the device ends before its " + size + " bytes (was it truncated?)");
      } else if (n != -Posix.EINTR) {
        throw failure(read ? "pread" : "pwrite", (int) -n, position + done, offset, length);
      }
    }
  }

  private void zero(long offset, long length) throws BlockIOException {
    Zeroing how = zeroing;
    while (true) {
      int r = switch (how) {
        case BLKZEROOUT -> rangeIoctl(Posix.BLKZEROOUT, offset, length);
        case ZERO_RANGE -> fallocate(Posix.FALLOC_FL_ZERO_RANGE, offset, length);
        case PUNCH_HOLE -> fallocate(Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE, offset, length);
        case WRITE -> {
          for (long done = 0; done < length; done += Zeroes.BUFFER.byteSize()) {
            long n = Math.min(Zeroes.BUFFER.byteSize(), length - done);
            transferFully(false, Zeroes.BUFFER.address(), n, offset + done, offset, length);
          }
          yield 0;
        }
      };
      if (r == 0) {
        return;
      }
      if (how == Zeroing.ZERO_RANGE && r == -Posix.ENOSPC) {
        how = Zeroing.PUNCH_HOLE; // ZERO_RANGE allocates; a hole needs no space. Only for this call.
      } else if (unsupported(r)) {
        how = how == Zeroing.BLKZEROOUT ? Zeroing.WRITE : Zeroing.values()[how.ordinal() + 1];
        zeroing = how;
      } else {
        throw failure(switch (how) {
          case BLKZEROOUT -> "ioctl(BLKZEROOUT)";
          case ZERO_RANGE -> "fallocate(ZERO_RANGE)";
          default -> "fallocate(PUNCH_HOLE)";
        }, -r, offset, offset, length);
      }
    }
  }

  private int fallocate(int mode, long offset, long length) {
    int r;
    do {
      r = Posix.fallocate(fd, mode, offset, length);
    } while (r == -Posix.EINTR);
    return r;
  }

  /** An ioctl taking {@code u64 range[2] = {offset, length}}: BLKDISCARD, BLKZEROOUT. */
  private int rangeIoctl(long request, long offset, long length) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment range = arena.allocate(ValueLayout.JAVA_LONG, 2);
      range.setAtIndex(ValueLayout.JAVA_LONG, 0, offset);
      range.setAtIndex(ValueLayout.JAVA_LONG, 1, length);
      int r;
      do {
        r = Posix.ioctl(fd, request, range);
      } while (r == -Posix.EINTR);
      return r;
    }
  }

  private static boolean unsupported(int r) {
    return r == -Posix.EOPNOTSUPP || r == -Posix.ENOTTY || r == -Posix.ENOSYS;
  }

  private BlockIOException failure(String call, int errno, long position, long offset, long length) {
    String where = position == offset ? "" : " at offset " + position;
    return new BlockIOException(errnoOf(errno), name, offset, length, call + where + " failed: " + Posix.describe(errno));
  }

  /** The errno a front-end reports for a Linux errno. */
  static Errno errnoOf(int errno) {
    return switch (errno) {
      case Posix.EINVAL -> Errno.EINVAL;
      case Posix.ENOSPC, 122 /* EDQUOT */ -> Errno.ENOSPC;
      case Posix.EOVERFLOW -> Errno.EOVERFLOW;
      case Posix.EOPNOTSUPP -> Errno.ENOTSUP;
      default -> Errno.EIO;
    };
  }
}
