package io.pcache.core.cli;

import io.pcache.api.media.CacheMedia;
import io.pcache.core.engine.CacheRefusedException;
import io.pcache.core.engine.CacheRepair;
import io.pcache.core.engine.Inspector;
import io.pcache.core.format.BackingRecord;
import io.pcache.core.inject.Devices;
import jakarta.inject.Inject;
import java.util.List;

/**
 * {@code pcache check [--repair] [--cache SPEC]}: verifies a cache device offline without changing
 * it: every metadata replica, the whole kset log (a corrupt kset with valid ksets after it is a
 * problem; a torn last kset is the normal end) and, when the cache keeps data CRCs, every cached
 * extent; and shows the recorded backing device ({@link BackingRecord}; a corrupt record is a
 * problem). With {@code --repair} it first rebuilds what {@link CacheRepair} can (a damaged
 * superblock from cache_info, a damaged replica from its twin), saying each thing it did. Exit
 * status 0 when nothing is wrong, 1 when a problem was found.
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
    boolean repair = line.switches().contains("repair");
    try (CacheMedia media = devices.openMedia(false, !repair)) {
      long start = System.nanoTime();
      if (repair) {
        List<String> done = CacheRepair.repair(media);
        for (String d : done) {
          output.out().println("repaired: " + d);
        }
        if (done.isEmpty()) {
          output.out().println("repair: nothing to rebuild");
        }
      }
      Inspector.Report r;
      try {
        r = new Inspector(media).inspect(true, null);
      } catch (CacheRefusedException e) {
        output.out().println("problem: " + e.getMessage());
        output.out().println(media.name() + ": 1 problem(s); the log was not read");
        return 1;
      }
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
