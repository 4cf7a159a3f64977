package io.pcache.core.cli;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.engine.Inspector;
import io.pcache.core.format.BackingRecord;
import io.pcache.core.inject.Devices;
import jakarta.inject.Inject;

/**
 * {@code pcache check [--cache SPEC]}: verifies a cache device offline without changing it: every
 * metadata replica, the whole kset log and, when the cache keeps data CRCs, every cached extent;
 * and shows the recorded backing device ({@link BackingRecord}; a corrupt record is a problem).
 * Exit status 0 when nothing is wrong, 1 when a problem was found.
 */
public final class CheckCommand implements Command {

  private final Devices devices;
  private final Output output;

  @Inject
  public CheckCommand(Devices devices, Output output) {
    this.devices = devices;
    this.output = output;
  }

  @Override
  public int run(CommandLine line) throws Exception {
    try (CacheMedia media = devices.openMedia(false, true)) {
      long start = System.nanoTime();
      Inspector.Report r = new Inspector(media).inspect(true, null);
      for (String p : r.problems()) {
        output.out().println("problem: " + p);
      }
      for (String w : r.warnings()) {
        output.out().println("warning: " + w);
      }
      BackingRecord.Found backing = BackingRecord.load(media);
      boolean backingOk = backing.status() != BackingRecord.Status.CORRUPT;
      for (String p : backing.problems()) {
        output.out().println((backingOk ? "warning: " : "problem: ") + p);
      }
      output.out().println(BackingRecord.describe(backing));
      output.out().printf("%s: %s; %d ksets, %d keys, %d data CRCs checked%s in %d ms; status %s%n", media.name(),
          r.ok() ? "OK" : r.problems().size() + " problem(s)", r.ksets(), r.keys(), r.crcChecked(),
          r.dataCrc() ? "" : " (data_crc off)", (System.nanoTime() - start) / 1_000_000, r.statusLine());
      return r.ok() && backingOk ? 0 : 1;
    }
  }
}
