package io.pcache.core.cli;

/** The text of {@code pcache --help} and {@code pcache help COMMAND}. */
final class HelpText {

  private HelpText() {}

  static final String MAIN = """
      pcache - a persistent block cache (Linux dm-pcache in Java), served over NBD or ublk

      Usage: pcache [OPTIONS] COMMAND [OPTIONS]

      Commands:
        run       Serve the cached device: open (or create and format) the cache and the
                  backing device, replay the cache, start the front-end (nbd or ublk)
        format    Format a cache device: pcache format [--data-crc] [--force] --cache SPEC
        status    Show the dm-pcache status line and counters: of the running pcache (through
                  its control socket), else of the cache device read offline
        ctl       Tune a running pcache: ctl show, ctl set KEY VALUE, ctl writeback pause|resume,
                  ctl flush (keys: gc_percent, writeback.rate, writeback.dirty-percent,
                  cache.kset-flush-delay, gc.*)
        check     Verify a cache device offline (every replica, the whole log); --repair rebuilds replicas
        drain     Write every dirty byte back to the backing device, with a progress bar (in the
                  running pcache while it serves, else offline)
        plugins   List every provider found: kind, name, module, and whether from lib/ or plugins/
        config    Show the effective configuration and where each value comes from
                  ('pcache config describe' adds each key's documentation)
        help      Show this text, or 'pcache help COMMAND'

      Options (anywhere on the line):
        --config FILE        Read configuration from FILE as well (see precedence below)
        --KEY VALUE          Set any configuration key, e.g. --cache.size 2G (also --KEY=VALUE)
        --cache SPEC         The cache media (cache.device), e.g. file:/var/lib/pcache/cache.img
        --backing SPEC       The backing device (backing.device), e.g. block:/dev/sdb
        --data-dir DIR       Where the default cache and backing files live (data.dir)
        --frontend NAME      nbd or ublk (frontend)
        --listen ADDR        The NBD listen address, host:port or unix:/path (nbd.listen)
        --gc-policy NAME     threshold, watermark, or a plugin's (cache.gc-policy)
        --control.socket P   The running pcache's control socket (default data.dir/pcache.sock)
        --data-crc           Format with data CRCs (cache.data-crc=true, the default; --cache.data-crc false for none)
        --force              With format: overwrite an existing cache
        --recover-log cut    With run: start on a log that is corrupt in the middle, dropping the keys
                             from the bad kset on (cache.recover-log; default refuse)
        --backing-changed accept
                             With run: start a cache that holds dirty data for another backing device
                             and write it to this one (backing.changed; default refuse)
        -h, --help           Show help
        -V, --version        Show the version

      Configuration precedence (highest first): command-line flags, environment variables
      (PCACHE_CACHE_SIZE for cache.size), --config FILE, conf/pcache.properties, built-in defaults.
      Sizes take K, M, G, T (1G = 1073741824); durations take ms, s, m, h.

      Exit status: 0 success, 1 failure, 2 usage or configuration error, 3 the cache was refused as it
      is (damaged superblock, corrupt kset log, dirty data for another backing device: see the message).
      """;

  static String forCommand(String command) {
    if (command == null) {
      return MAIN;
    }
    return switch (command) {
      case "run" -> """
          Usage: pcache run [--cache SPEC] [--backing SPEC] [--frontend nbd|ublk] [--listen ADDR] [--KEY VALUE ...]

          Opens the cache media and the backing device (creating the default files under data.dir on
          first start; a --backing image that does not exist is created only when --backing.size is
          given), formats a blank cache, replays an existing one, and serves the cached device
          through the chosen front-end until SIGTERM or Ctrl-C, then shuts down cleanly: in-flight
          requests finish, open ksets are closed, the backing device is flushed.
          """;
      case "format" -> """
          Usage: pcache format [--data-crc] [--force] --cache SPEC

          Writes a new, empty dm-pcache layout to the cache media. Without --force it refuses media
          that already holds a pcache, or any non-zero byte in its superblock area.
          """;
      case "status" -> """
          Usage: pcache status [--cache SPEC] [--control.socket PATH]

          Prints the dm-pcache status line (sb_flags seg_total cache_segs segs_used gc_percent
          cache_flags key_head dirty_tail key_tail) and counters of a cache. When a running pcache
          serves the cache it answers through its control socket (control.socket, by default
          data.dir/pcache.sock): live positions, writeback and GC state and every counter.
          Otherwise the device is read offline (it must not be in use). The third line says which.
          """;
      case "ctl" -> """
          Usage: pcache ctl show
                 pcache ctl set KEY VALUE
                 pcache ctl writeback pause|resume
                 pcache ctl flush

          Tunes a running pcache through its control socket (control.socket; owner-only), without
          restarting it:
            show                   every tunable with its value, valid range and whether it is kept
            set gc_percent N       0..90, the threshold GC policy's start point; persisted in the
                                   cache_info like dm-pcache's 'gc_percent N' message
            set writeback.rate R   writeback limit in bytes per second (100M, 1G); 0 for none
            set cache.kset-flush-delay D   how long an open kset may hold keys (250ms, 1s; max 1h)
            set gc.POLICY.PARAM V  a GC policy parameter, e.g. gc.watermark.high 85
            writeback pause|resume stop or restart writeback (the batch in flight completes)
            flush                  close every open kset now
          Only gc_percent survives a restart; set the others in conf/pcache.properties to keep them.
          An unknown key or a value out of range is refused with one line naming it, and nothing
          changes (exit status 2).
          """;
      case "check" -> """
          Usage: pcache check [--repair] [--cache SPEC]

          Verifies a cache device offline: every metadata replica, the whole kset log and, with data
          CRCs, every cached extent. Reports problems (exit status 1); changes nothing. A corrupt kset
          with valid ksets after it is a problem; a torn last kset (a power cut) is the end of the log.
          With --repair it first rebuilds a damaged superblock from cache_info and a damaged replica
          from its intact twin, printing each repair; the kset log and data are never changed.
          """;
      case "drain" -> """
          Usage: pcache drain [--cache SPEC] [--backing SPEC]

          Writes every dirty byte back to the backing device (progress on standard error), flushes
          it, and returns when the backing device holds everything. When a running pcache serves
          the cache, the drain happens there while it keeps serving (everything written before the
          drain started is written back; a paused writeback is resumed); otherwise the cache is
          opened offline.
          """;
      case "plugins" -> """
          Usage: pcache plugins

          Lists every provider found in lib/ and plugins/: its kind (media, backing, frontend,
          gc-policy), name, module, origin and description, then what each can do on this machine.
          A plugin jar dropped into plugins/ (or a directory of jars in plugins/NAME/) is loaded in a
          module layer of its own.
          """;
      case "config" -> """
          Usage: pcache config [describe] [--config FILE] [--KEY VALUE ...]

          Prints the effective configuration: every key, its value and where the value came from.
          With 'describe', each key's documentation, type and environment variable follow it.
          """;
      default -> "pcache: no help for '" + command + "'\n\n" + MAIN;
    };
  }
}
