package io.pcache.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import io.pcache.api.media.CacheMedia;
import io.pcache.api.media.MediaOptions;
import io.pcache.testkit.SparseHeapMedia.Flaw;
import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Tests the tests: runs the conformance test meant to catch each {@link Flaw} against media with
 * that flaw, through a nested JUnit launcher, and checks that it fails. (Without flaws the same
 * media passes the whole suite: {@link SparseHeapMediaConformanceTest}.)
 */
class ConformanceCatchesFlawsTest {

  /** The suite over flawed media; nested, so that Surefire does not run it by itself. */
  static final class FlawedMediaConformance extends CacheMediaConformance {
    static volatile Flaw flaw;

    @Override
    protected CacheMedia create(Path dir, long size) throws IOException {
      return SparseHeapMedia.create(dir, size, EnumSet.of(flaw));
    }

    @Override
    protected CacheMedia reopen(Path dir, MediaOptions options) throws IOException {
      return SparseHeapMedia.open(dir, options, EnumSet.of(flaw));
    }

    @AfterEach
    void forgetMedia() {
      SparseHeapMedia.forget(mediaDirectory());
    }
  }

  private static String caughtBy(Flaw flaw) {
    return switch (flaw) {
      case OVERFLOWING_BOUNDS_CHECK -> "outOfRangeReadsThrowAndReadNothing";
      case PARTIAL_WRITE_BEFORE_BOUNDS_CHECK -> "outOfRangeWritesThrowAndChangeNothing";
      case ANONYMOUS_BOUNDS_MESSAGE, UNCHECKED_PERSIST -> "outOfRangePersistsThrow";
      case INT_OFFSETS -> "accessesBeyondTwoGiBMatchModel";
      case DROPS_BYTE_AT_CHUNK_EDGE -> "randomReadsAndWritesMatchModel";
      case SHARED_STAGING_BUFFER -> "concurrentWritersOnDisjointRangesAndConcurrentReaders";
      case USABLE_AFTER_CLOSE -> "useAfterCloseThrowsIllegalStateException";
      case CLOSE_NOT_IDEMPOTENT -> "closeIsIdempotentAndReleasesTheMedia";
      case NO_EXCLUSION -> "secondOpenWhileOpenIsRefused";
      case WRITABLE_WHEN_READ_ONLY -> "readOnlyMediaRefusesWrites";
      case FORGETS_ON_REOPEN -> "persistedDataSurvivesCloseAndReopen";
      case RESIZES_ON_REOPEN -> "reopenKeepsTheSizeAndRefusesAnotherSize";
      case REFUSES_EMPTY_AT_END -> "zeroLengthAccessesAreNoOps";
    };
  }

  @ParameterizedTest
  @EnumSource(Flaw.class)
  void conformanceTestFailsOnFlawedMedia(Flaw flaw) {
    FlawedMediaConformance.flaw = flaw;
    String test = caughtBy(flaw);
    SummaryGeneratingListener listener = new SummaryGeneratingListener();
    LauncherFactory.create()
        .execute(
            LauncherDiscoveryRequestBuilder.request()
                .selectors(selectMethod(FlawedMediaConformance.class, test))
                .build(),
            listener);
    TestExecutionSummary summary = listener.getSummary();
    assertEquals(1, summary.getTestsStartedCount(), test + " did not run for " + flaw);
    assertEquals(
        1,
        summary.getTestsFailedCount(),
        () -> test + " passed on media with flaw " + flaw);
    System.out.println(flaw + " caught by " + test + ": "
        + summary.getFailures().stream()
            .map(f -> String.valueOf(f.getException()))
            .collect(Collectors.joining("; ")));
  }
}
