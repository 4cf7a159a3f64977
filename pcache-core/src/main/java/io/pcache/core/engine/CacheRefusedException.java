package io.pcache.core.engine;

import java.io.IOException;

/**
 * The cache cannot be started as it is, and starting it anyway could lose or misplace data: a
 * damaged superblock, a corrupt kset log, dirty data cached for another backing device. Nothing
 * was changed; the message says what was found and the explicit ways forward. {@code pcache}
 * exits with status 3 on it, which the systemd unit does not restart: it needs an operator.
 */
public final class CacheRefusedException extends IOException {

  private static final long serialVersionUID = 1L;

  public CacheRefusedException(String message) {
    super(message);
  }
}
