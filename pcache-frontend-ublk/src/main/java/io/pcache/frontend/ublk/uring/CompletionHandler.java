package io.pcache.frontend.ublk.uring;

/** Receives completion queue entries from {@link IoUring#drainCompletions}. */
@FunctionalInterface
public interface CompletionHandler {

  /**
   * One CQE.
   *
   * @param userData the SQE's {@code user_data}
   * @param res the result: a count or 0 on success, {@code -errno} on failure
   * @param flags the CQE flags ({@code IORING_CQE_F_*})
   */
  void completion(long userData, int res, int flags);
}
