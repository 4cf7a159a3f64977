package io.pcache.api.media;

/**
 * What {@link CacheMedia#persist} really achieves on a given media, from strongest to weakest.
 * The engine issues the same barriers whatever the domain; the domain tells the operator (and the
 * {@code pcache plugins} and {@code status} output) what survives what.
 */
public enum PersistenceDomain {
  /**
   * Persistent memory mapped with MAP_SYNC (fsdax) or a devdax device: {@code persist} writes the
   * CPU cache lines back and fences, with no system call. Survives power loss and kernel crash.
   */
  DAX,
  /**
   * A file in the page cache of a disk-backed file system: {@code persist} calls {@code msync} on
   * the dirty pages of the range. Survives power loss and kernel crash once persisted.
   */
  PAGE_CACHE,
  /**
   * Memory that does not survive a reboot (tmpfs, {@code /dev/shm}, anonymous memory):
   * {@code persist} is an ordering fence only. Survives the death of the pcache process, not a
   * reboot or power loss. Meant for tests and for emulated persistent memory.
   */
  VOLATILE
}
