package io.pcache.testkit;

import io.pcache.api.BlockIOException;
import io.pcache.api.BlockIOException.Errno;
import io.pcache.api.backing.BackingDevice;
import io.pcache.api.backing.BackingIdentity;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A backing device in native memory that simulates power cuts: a write is durable only once a
 * {@link #flush} that started after it has returned, as the {@link BackingDevice} contract says.
 *
 * <p>Each 512-byte sector written (or zeroed) since the last flush keeps its old content (the
 * first old value wins); a flush drops them all. At a power cut of the shared {@link
 * PowerSupply}, a random subset of those sectors reverts to the old content (lost writes, and
 * requests torn at sector granularity) and the device object is dead: its writes, write-zeroes,
 * discards and flushes are ignored, so an engine abandoned after the cut cannot change the image.
 * {@link #reopen()} gives a live device on the image as the cut left it.
 *
 * <p>Reads and writes exclude each other (a read-write lock), so a sector is never seen half
 * written: a real disk guarantees that much for 512-byte sectors. {@link #discard} changes
 * nothing (the contract allows old content after a discard).
 */
public final class CrashingBacking implements BackingDevice {

  private static final int SECTOR = 512;
  private static final int SLOTS_PER_CHUNK = 8192;

  private final String name;
  private final Image image;
  private final int epoch;
  private volatile boolean closed;

  private CrashingBacking(String name, Image image) {
    this.name = name;
    this.image = image;
    this.epoch = image.supply.epoch();
  }

  /** A new zeroed device of {@code size} bytes (a multiple of 512) on {@code supply}. */
  public static CrashingBacking allocate(String name, long size, PowerSupply supply) {
    return over(name, NativeMemory.allocate(size, 4096), supply);
  }

  /** A new zeroed device with its own power supply. */
  public static CrashingBacking allocate(String name, long size) {
    return allocate(name, size, new PowerSupply());
  }

  /** A device over existing memory. */
  public static CrashingBacking over(String name, MemorySegment memory, PowerSupply supply) {
    Objects.requireNonNull(name, "name");
    if (memory.byteSize() % SECTOR != 0) {
      throw new IllegalArgumentException(name + ": size " + memory.byteSize() + " is not a multiple of 512");
    }
    Image image = new Image(memory, supply);
    supply.plug(image);
    return new CrashingBacking(name, image);
  }

  /** Another open of the same image after a restart: powers the supply up again if it was cut. */
  public CrashingBacking reopen() {
    image.supply.restore();
    return new CrashingBacking(name, image);
  }

  public PowerSupply supply() {
    return image.supply;
  }

  /** Cuts the power now. */
  public void crash(SplittableRandom random) {
    image.supply.cut(random);
  }

  /** Cuts the power now, keeping what {@code mode} says of the pending stores. */
  public void crash(SplittableRandom random, PowerSupply.CutMode mode) {
    image.supply.cut(random, mode);
  }

  /** Arms a cut at the {@code n}-th mutating operation on the supply from now. */
  public void armCrash(long n, SplittableRandom random) {
    image.supply.armAt(n, random);
  }

  /** Whether this device has gone through a power cut (its writes go nowhere). */
  public boolean crashed() {
    return !image.supply.alive(epoch);
  }

  /** The content, read-only. */
  public MemorySegment image() {
    return image.memory.asReadOnly();
  }

  /** Sectors written since the last flush. */
  public int pendingSectors() {
    image.rw.writeLock().lock();
    try {
      return image.sectors.size();
    } finally {
      image.rw.writeLock().unlock();
    }
  }

  /** Pending sectors that cuts reverted so far. */
  public long revertedSectors() {
    return image.reverted;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public long size() {
    return image.memory.byteSize();
  }

  /** The identity of its image (the same after {@link #reopen()}); see {@link MemoryBacking#identityOf}. */
  @Override
  public BackingIdentity identity() {
    return MemoryBacking.identityOf(name, image.memory);
  }

  @Override
  public int logicalBlockSize() {
    return SECTOR;
  }

  private void check(long offset, long length) throws BlockIOException {
    if (closed) {
      throw new BlockIOException(Errno.ESHUTDOWN, name, offset, length, "device is closed");
    }
    BlockIOException.checkRange(name, image.memory.byteSize(), offset, length);
    if (offset % SECTOR != 0 || length % SECTOR != 0) {
      throw new BlockIOException(Errno.EINVAL, name, offset, length, "not aligned to 512 bytes");
    }
  }

  @Override
  public void read(long offset, MemorySegment dst) throws BlockIOException {
    check(offset, dst.byteSize());
    image.rw.readLock().lock();
    try {
      MemorySegment.copy(image.memory, offset, dst, 0, dst.byteSize());
    } finally {
      image.rw.readLock().unlock();
    }
  }

  @Override
  public void write(long offset, MemorySegment src) throws BlockIOException {
    check(offset, src.byteSize());
    store(offset, src.byteSize(), src);
  }

  @Override
  public void writeZeroes(long offset, long length) throws BlockIOException {
    check(offset, length);
    store(offset, length, null);
  }

  private void store(long offset, long length, MemorySegment src) {
    image.supply.count();
    if (length == 0) {
      return;
    }
    image.rw.writeLock().lock();
    try {
      if (!image.supply.alive(epoch)) {
        return;
      }
      image.beforeWrite(offset, length);
      if (src == null) {
        image.memory.asSlice(offset, length).fill((byte) 0);
      } else {
        MemorySegment.copy(src, 0, image.memory, offset, length);
      }
    } finally {
      image.rw.writeLock().unlock();
    }
  }

  @Override
  public void flush() throws BlockIOException {
    if (closed) {
      throw new BlockIOException(Errno.ESHUTDOWN, name, 0, 0, "device is closed");
    }
    image.supply.count();
    image.rw.writeLock().lock();
    try {
      if (image.supply.alive(epoch)) {
        image.flushed();
      }
    } finally {
      image.rw.writeLock().unlock();
    }
  }

  @Override
  public void discard(long offset, long length) throws BlockIOException {
    check(offset, length);
    image.supply.count();
  }

  @Override
  public void close() {
    closed = true;
  }

  private static final class Image implements PowerSupply.Load {

    final MemorySegment memory;
    final PowerSupply supply;
    final ReentrantReadWriteLock rw = new ReentrantReadWriteLock();
    final LongIntMap sectors = new LongIntMap(1024);
    final List<MemorySegment> chunks = new ArrayList<>();
    int slots;
    int used;
    volatile long reverted;

    Image(MemorySegment memory, PowerSupply supply) {
      this.memory = memory;
      this.supply = supply;
    }

    @Override
    public Lock lock() {
      return rw.writeLock();
    }

    private MemorySegment slot(int slot) {
      return chunks.get(slot / SLOTS_PER_CHUNK).asSlice((long) (slot % SLOTS_PER_CHUNK) * SECTOR, SECTOR);
    }

    void beforeWrite(long offset, long length) {
      for (long s = offset / SECTOR, end = (offset + length) / SECTOR; s < end; s++) {
        if (sectors.get(s) >= 0) {
          continue;
        }
        if (used == slots) {
          chunks.add(Arena.ofAuto().allocate((long) SLOTS_PER_CHUNK * SECTOR, 8));
          slots += SLOTS_PER_CHUNK;
        }
        int slot = used++;
        MemorySegment.copy(memory, s * SECTOR, slot(slot), 0, SECTOR);
        sectors.put(s, slot);
      }
    }

    void flushed() {
      sectors.clear();
      used = 0;
    }

    @Override
    public void cut(SplittableRandom random, PowerSupply.Survival survival) {
      long[] n = new long[1];
      sectors.forEach((sector, slot) -> {
        if (!survival.keep(random)) {
          MemorySegment.copy(slot(slot), 0, memory, sector * SECTOR, SECTOR);
          n[0]++;
        }
      });
      reverted += n[0];
      flushed();
    }
  }
}
