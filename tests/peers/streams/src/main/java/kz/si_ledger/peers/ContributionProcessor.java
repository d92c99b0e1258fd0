package kz.si_ledger.peers;

import com.google.protobuf.InvalidProtocolBufferException;
import java.math.BigDecimal;
import java.util.OptionalLong;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import si.ledger.v1.Events.ContributionPaid;
import si.ledger.v1.Events.Envelope;

/**
 * Folds each contribution (an {@link Envelope} whose payload is
 * {@link ContributionPaid}) into its participant's {@link Account}, once per
 * event id. Anything else is counted and skipped; it never throws on a record.
 */
public final class ContributionProcessor implements Processor<byte[], byte[], Void, Void> {
  /** Event id to a marker: the ids folded (or already taken by an earlier record). */
  public static final String SEEN_STORE = "seen";
  /** IIN to the participant's {@link Account}. */
  public static final String ACCOUNTS_STORE = "accounts";

  private static final byte[] MARKER = {1};

  private final Counters counters;
  private KeyValueStore<String, byte[]> seen;
  private KeyValueStore<String, Account> accounts;

  /** A processor counting into {@code counters}. */
  public ContributionProcessor(Counters counters) {
    this.counters = counters;
  }

  @Override
  public void init(ProcessorContext<Void, Void> context) {
    seen = context.getStateStore(SEEN_STORE);
    accounts = context.getStateStore(ACCOUNTS_STORE);
  }

  @Override
  public void process(Record<byte[], byte[]> record) {
    try {
      fold(record.value());
    } finally {
      // Last, so that a watcher seeing the count sees the stores written.
      counters.processed.incrementAndGet();
    }
  }

  private void fold(byte[] value) {
    Envelope envelope;
    try {
      if (value == null) {
        throw new InvalidProtocolBufferException("a null value (tombstone)");
      }
      envelope = Envelope.parseFrom(value);
    } catch (InvalidProtocolBufferException e) {
      counters.skippedUnparsable.incrementAndGet();
      return;
    }
    if (envelope.getPayloadCase() != Envelope.PayloadCase.CONTRIBUTION) {
      counters.skippedNotContribution.incrementAndGet();
      return;
    }
    ContributionPaid contribution = envelope.getContribution();
    OptionalLong tiyn = tiyn(contribution.getAmount());
    if (tiyn.isEmpty()) {
      counters.skippedBadAmount.incrementAndGet();
      return;
    }
    if (seen.get(envelope.getEventId()) != null) {
      counters.duplicates.incrementAndGet();
      return;
    }
    Account account = accounts.get(envelope.getIin());
    if (account == null) {
      account = new Account();
    }
    try {
      account.add(contribution.getPeriod(), tiyn.getAsLong());
    } catch (ArithmeticException overflow) {
      counters.skippedBadAmount.incrementAndGet();
      return;
    }
    seen.put(envelope.getEventId(), MARKER);
    accounts.put(envelope.getIin(), account);
    counters.contributions.incrementAndGet();
  }

  /**
   * An amount in KZT ("4250.00": a decimal with at most two fraction digits,
   * not negative) in tiyn (1/100 KZT); empty if it is not one or exceeds a long.
   */
  static OptionalLong tiyn(String amount) {
    try {
      BigDecimal kzt = new BigDecimal(amount);
      if (kzt.scale() > 2 || kzt.signum() < 0) {
        return OptionalLong.empty();
      }
      return OptionalLong.of(kzt.movePointRight(2).longValueExact());
    } catch (NumberFormatException | ArithmeticException e) {
      return OptionalLong.empty();
    }
  }
}
