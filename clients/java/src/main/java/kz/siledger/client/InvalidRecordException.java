package kz.siledger.client;

/**
 * A record the ledger would refuse: which field, and why.
 *
 * <p>{@link #field()} is the field's path in the Envelope as the ledger names it ({@code
 * contribution.payment.received_on}, {@code iin}, {@code payload}): the same path the
 * projector writes on a refused record or a dead letter, and the one the shared test vectors
 * ({@code proto/testdata/vectors.json}) give. {@link #reason()} says why in English; its
 * wording may differ from the ledger's.
 */
public final class InvalidRecordException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String field;
  private final String reason;
  private final String eventId;

  InvalidRecordException(String field, String reason) {
    this(field, reason, "");
  }

  InvalidRecordException(String field, String reason, String eventId) {
    super((eventId.isEmpty() ? "" : "record " + eventId + ": ") + field + ": " + reason);
    this.field = field;
    this.reason = reason;
    this.eventId = eventId;
  }

  /** The refused record's event id, or "" when it has none (or the fault is not one record's). */
  public String eventId() {
    return eventId;
  }

  /** The field's path, for example {@code contribution.amount}. */
  public String field() {
    return field;
  }

  /** Why the field is refused. */
  public String reason() {
    return reason;
  }
}
