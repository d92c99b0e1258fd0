package kz.siledger.client;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import si.ledger.v1.Common.PaymentDocument;
import si.ledger.v1.Common.PersonName;
import si.ledger.v1.Events.ContributionPaid;
import si.ledger.v1.Events.Envelope;

/**
 * One payment order (Rules §6-7): its document, and a contribution line per person, each
 * line one record. {@link #lines()} fills the document's {@code total_amount} and {@code
 * line_count} from the lines (or checks them, when the document gives them), and gives the
 * records to publish together ({@link LedgerProducer#publishOrder}).
 *
 * <pre>{@code
 * List<Envelope> lines = new PaymentOrder("bank-42", document)
 *     .line("bank-42/PP-1/1", "900517400015", "2025-12", "27050.00", person)
 *     .lines();
 * }</pre>
 */
public final class PaymentOrder {
  private final String source;
  private final PaymentDocument document;
  private final List<Envelope> lines = new ArrayList<>();

  /**
   * @param source who publishes the order (the bank)
   * @param document the order's own fields, alike on each of its lines
   */
  public PaymentOrder(String source, PaymentDocument document) {
    this.source = source;
    this.document = document;
  }

  /**
   * Adds a line.
   *
   * @param eventId unique per line: a re-publish of it is a duplicate
   * @param iin the person's IIN, also the record key
   * @param period the month paid for, "YYYY-MM"
   * @param amount tenge, at most two decimals ("27050.00", "27050")
   * @throws InvalidRecordException naming the field, or {@code event_id} when two lines share
   *     one
   */
  public PaymentOrder line(
      String eventId, String iin, String period, String amount, PersonName person) {
    Envelope line =
        Records.contribution(
            eventId,
            iin,
            source,
            ContributionPaid.newBuilder()
                .setPayment(document)
                .setPeriod(period)
                .setAmount(amount)
                .setPerson(person)
                .build());
    lines.add(line);
    return this;
  }

  /**
   * The order's records, its document's total and line count set on each.
   *
   * @throws InvalidRecordException when the order has no line, two lines share an event id,
   *     or the document's own total or line count differs from its lines'
   */
  public List<Envelope> lines() {
    if (lines.isEmpty()) {
      throw new InvalidRecordException("contribution", "a payment order needs at least one line");
    }
    BigDecimal total = BigDecimal.ZERO;
    Set<String> ids = new HashSet<>();
    for (Envelope line : lines) {
      total = total.add(new BigDecimal(line.getContribution().getAmount()));
      if (!ids.add(line.getEventId())) {
        throw new InvalidRecordException(
            "event_id", "two lines of one order share the id " + line.getEventId());
      }
    }
    String sum = total.setScale(2).toPlainString();
    PaymentDocument doc = lines.get(0).getContribution().getPayment();
    if (!doc.getTotalAmount().isEmpty() && !doc.getTotalAmount().equals(sum)) {
      throw new InvalidRecordException(
          "contribution.payment.total_amount",
          "the order's total is " + doc.getTotalAmount() + ", its lines sum to " + sum);
    }
    if (doc.getLineCount() != 0 && doc.getLineCount() != lines.size()) {
      throw new InvalidRecordException(
          "contribution.payment.line_count",
          "the order says " + Integer.toUnsignedString(doc.getLineCount()) + " lines, it has "
              + lines.size());
    }
    PaymentDocument whole =
        doc.toBuilder().setTotalAmount(sum).setLineCount(lines.size()).build();
    List<Envelope> out = new ArrayList<>(lines.size());
    for (Envelope line : lines) {
      Envelope.Builder b = line.toBuilder();
      b.getContributionBuilder().setPayment(whole);
      out.add(Records.canonical(b.build()));
    }
    return List.copyOf(out);
  }
}
