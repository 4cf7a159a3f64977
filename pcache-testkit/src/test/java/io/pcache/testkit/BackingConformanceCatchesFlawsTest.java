package io.pcache.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import io.pcache.api.backing.BackingDevice;
import io.pcache.testkit.HeapBackingDevice.Flaw;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Tests the tests: runs the {@link BackingDeviceConformance} test meant to catch each {@link Flaw}
 * against a {@link HeapBackingDevice} with that flaw, through a nested JUnit launcher, and checks
 * that it fails. (Without flaws the device passes the whole suite: {@link
 * HeapBackingDeviceConformanceTest}.)
 */
class BackingConformanceCatchesFlawsTest {

  /** The suite over a flawed device; nested, so that Surefire does not run it by itself. */
  static final class FlawedBackingConformance extends BackingDeviceConformance {
    static volatile Flaw flaw;

    @Override
    protected BackingDevice open(Path dir, long size) throws IOException {
      return HeapBackingDevice.open(dir, size, false, Set.of(flaw));
    }

    @Override
    protected BackingDevice openReadOnly(Path dir) throws IOException {
      return HeapBackingDevice.open(dir, deviceSize(), true, Set.of(flaw));
    }

    @Override
    protected void cleanUp(Path dir) {
      HeapBackingDevice.forget(dir);
    }

    @Override
    protected void resize(Path dir, long bytes) {
      HeapBackingDevice.resize(dir, bytes);
    }
  }

  private static String caughtBy(Flaw flaw) {
    return switch (flaw) {
      case NO_ALIGNMENT_CHECK, ANONYMOUS_ERRORS -> "misalignedRequestsAreRejectedAndChangeNothing";
      case OVERFLOWING_RANGE_CHECK, PARTIAL_WRITE_AT_END -> "outOfRangeRequestsAreRejectedAndChangeNothing";
      case REFUSES_EMPTY_AT_END -> "emptyRequestsSucceedAndChangeNothing";
      case IGNORES_SLICE_OFFSET -> "everyKindOfSegmentRoundTrips";
      case ZEROES_SPILL_INTO_NEXT_BLOCK -> "writeZeroesReadsBackZeroesAndSparesNeighbours";
      case DISCARD_CLOBBERS_NEIGHBOUR -> "discardSucceedsAndSparesNeighbours";
      case SHARED_STAGING_BUFFER -> "concurrentWritersAndReadersOnDisjointRanges";
      case FORGETS_ON_REOPEN -> "contentPersistsAcrossCloseAndReopen";
      case NO_EXCLUSION -> "secondOpenIsRefusedWhileTheFirstIsOpen";
      case CLOSE_NOT_IDEMPOTENT, USABLE_AFTER_CLOSE -> "closeIsIdempotentAndLaterCallsFail";
      case FAILS_WHEN_INTERRUPTED, CLEARS_INTERRUPT -> "interruptedCallersDoNotBreakTheDevice";
      case WRITABLE_WHEN_READ_ONLY -> "readOnlyDeviceRefusesChanges";
      case ONE_IDENTITY_FOR_ALL -> "otherDevicesHaveOtherIdentities";
      case NEW_IDENTITY_PER_OPEN -> "identityIsStableAcrossCloseAndReopen";
      case IDENTITY_WITHOUT_SIZE -> "identityIsOfTheDevice";
      case STALE_CURRENT_SIZE -> "currentSizeFollowsAResizeUnderTheOpenDevice";
    };
  }

  @ParameterizedTest
  @EnumSource(Flaw.class)
  void conformanceTestFailsOnFlawedDevice(Flaw flaw) {
    FlawedBackingConformance.flaw = flaw;
    String test = caughtBy(flaw);
    SummaryGeneratingListener listener = new SummaryGeneratingListener();
    LauncherFactory.create().execute(
        LauncherDiscoveryRequestBuilder.request().selectors(selectMethod(FlawedBackingConformance.class, test)).build(), listener);
    TestExecutionSummary summary = listener.getSummary();
    assertEquals(1, summary.getTestsStartedCount(), test + " did not run for " + flaw);
    assertEquals(1, summary.getTestsFailedCount(), test + " did not catch " + flaw);
  }
}
