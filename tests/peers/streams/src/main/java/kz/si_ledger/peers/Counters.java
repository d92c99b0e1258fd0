package kz.si_ledger.peers;

import java.util.concurrent.atomic.AtomicLong;

/**
 * What the processor did, shared by every stream thread of the instance:
 * counts of input records. Not part of the transactional state: a task
 * reprocessed after an aborted transaction would count its records again
 * (which a run without failures never does).
 */
public final class Counters {
  /** Input records processed, each once, whatever became of it (the stop condition). */
  public final AtomicLong processed = new AtomicLong();
  /** Contributions folded into an account. */
  public final AtomicLong contributions = new AtomicLong();
  /** Contributions whose event id had been seen: skipped, the first one wins. */
  public final AtomicLong duplicates = new AtomicLong();
  /** Records whose value is not an Envelope. */
  public final AtomicLong skippedUnparsable = new AtomicLong();
  /** Envelopes whose payload is not a contribution. */
  public final AtomicLong skippedNotContribution = new AtomicLong();
  /** Contributions whose amount is not a non-negative decimal with at most two fraction digits. */
  public final AtomicLong skippedBadAmount = new AtomicLong();

  /** Records skipped, every category. */
  public long skipped() {
    return skippedUnparsable.get() + skippedNotContribution.get() + skippedBadAmount.get();
  }
}
