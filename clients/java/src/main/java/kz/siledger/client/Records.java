package kz.siledger.client;

import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.charset.StandardCharsets;
import si.ledger.v1.Events.BenefitAssigned;
import si.ledger.v1.Events.BenefitPaid;
import si.ledger.v1.Events.BenefitReturned;
import si.ledger.v1.Events.BenefitStatusChanged;
import si.ledger.v1.Events.ContributionPaid;
import si.ledger.v1.Events.ContributionRefunded;
import si.ledger.v1.Events.Envelope;
import si.ledger.v1.Events.IdentifierMerged;
import si.ledger.v1.Events.PersonDataChanged;
import si.ledger.v1.Events.PersonRegistered;

/**
 * The ledger's records, built, spelled and checked as the ledger does.
 *
 * <p>Each builder takes the record's envelope fields (event id, the participant's IIN,
 * source) and its payload as the message generated from {@code proto/} (typed: {@code
 * ContributionPaid.newBuilder().setPeriod("2025-12")…}), and returns the Envelope in its
 * canonical spelling ({@link #canonical}), or throws {@link InvalidRecordException} naming the
 * first field the ledger would refuse. Open kinds ({@code contribution}, {@code refund}) any
 * payment processor may publish; the others are privileged: an authority signs them ({@link
 * RecordSigner}) or the projector refuses them (docs/authority.md).
 */
public final class Records {
  private Records() {}

  /** What precedes a record's canonical bytes in the message an authority signs. */
  public static final String DOMAIN_PREFIX = "si-ledger/v1 Envelope\n";

  /** A social contribution (PPC 012) or penalty (017) paid for one person: a payment order's line. */
  public static Envelope contribution(
      String eventId, String iin, String source, ContributionPaid line) {
    return canonical(head(eventId, iin, source).setContribution(line).build());
  }

  /** A refund of excessive or erroneous contributions (Social Code art. 247). */
  public static Envelope refund(
      String eventId, String iin, String source, ContributionRefunded refund) {
    return canonical(head(eventId, iin, source).setRefund(refund).build());
  }

  /** A benefit assigned by the Fund (privileged: the Fund signs it). */
  public static Envelope benefitAssigned(
      String eventId, String iin, String source, BenefitAssigned benefit) {
    return canonical(head(eventId, iin, source).setBenefitAssigned(benefit).build());
  }

  /** A benefit suspended, resumed or terminated (privileged: the Fund). */
  public static Envelope benefitStatus(
      String eventId, String iin, String source, BenefitStatusChanged status) {
    return canonical(head(eventId, iin, source).setBenefitStatus(status).build());
  }

  /** A benefit paid for one period (privileged: the Fund). */
  public static Envelope benefitPaid(
      String eventId, String iin, String source, BenefitPaid payment) {
    return canonical(head(eventId, iin, source).setBenefitPaid(payment).build());
  }

  /** An overpaid benefit returned to the Fund (privileged: the Fund). */
  public static Envelope benefitReturned(
      String eventId, String iin, String source, BenefitReturned returned) {
    return canonical(head(eventId, iin, source).setBenefitReturned(returned).build());
  }

  /** A person as the state register of individuals first knows them (privileged: the register). */
  public static Envelope person(
      String eventId, String iin, String source, PersonRegistered person) {
    return canonical(head(eventId, iin, source).setPerson(person).build());
  }

  /** A correction of a person's register data (privileged: the register). */
  public static Envelope personChanged(
      String eventId, String iin, String source, PersonDataChanged change) {
    return canonical(head(eventId, iin, source).setPersonChanged(change).build());
  }

  /**
   * One person found under two identifiers, keyed by the old one ({@code iin}); privileged:
   * the operator. Usually published by {@code si-ledger merge}.
   */
  public static Envelope merged(
      String eventId, String iin, String source, IdentifierMerged merge) {
    return canonical(head(eventId, iin, source).setMerged(merge).build());
  }

  /**
   * Parses a record value as the ledger does. Not {@code Envelope.parseFrom}: protobuf-java
   * gives a oneof case sent twice with another between them the first one's fields back
   * (protocolbuffers/protobuf#16), and reads values the ledger finds undecodable ({@code Wire}:
   * a known field with the wrong wire type, anywhere, even in a oneof case a later one
   * replaced; tags and lengths over 32 bits; a varint over 64 bits; text that is not UTF-8).
   *
   * @param value a record value: the bare Envelope (a Schema Registry framing is not read)
   * @throws InvalidProtocolBufferException when the ledger would find the value undecodable
   */
  public static Envelope parse(byte[] value) throws InvalidProtocolBufferException {
    Wire.check(value, Envelope.getDescriptor());
    DynamicMessage m = DynamicMessage.parseFrom(Envelope.getDescriptor(), value);
    return Envelope.parseFrom(m.toByteArray());
  }

  private static Envelope.Builder head(String eventId, String iin, String source) {
    return Envelope.newBuilder().setEventId(eventId).setIin(iin).setSource(source);
  }

  /**
   * The record in the ledger's canonical spelling, checked as the projector checks it.
   * A signature, if any, is kept as it is (whether it verifies is the projector's to judge).
   *
   * @throws InvalidRecordException naming the first field the ledger would refuse: the same
   *     field the shared test vectors give
   */
  public static Envelope canonical(Envelope record) {
    Envelope e = Canonical.canonicalize(record);
    try {
      Checks.check(e);
    } catch (InvalidRecordException refused) {
      if (e.getEventId().isEmpty()) {
        throw refused;
      }
      String id = e.getEventId();
      int shown = id.offsetByCodePoints(0, Math.min(128, id.codePointCount(0, id.length())));
      throw new InvalidRecordException(
          refused.field(),
          refused.reason(),
          shown == id.length() ? id : id.substring(0, shown) + "…");
    }
    return e;
  }

  /**
   * The message an authority signs for {@code record}: {@link #DOMAIN_PREFIX} followed by the
   * record's canonical bytes without its signature (protobuf's encoding, fields in
   * field-number order).
   *
   * @throws InvalidRecordException as {@link #canonical}
   */
  public static byte[] signedMessage(Envelope record) {
    return messageOf(canonical(record).toBuilder().clearSignature().build());
  }

  /** {@link #signedMessage} of a record canonical already and without its signature. */
  static byte[] messageOf(Envelope unsigned) {
    byte[] prefix = DOMAIN_PREFIX.getBytes(StandardCharsets.US_ASCII);
    byte[] body = unsigned.toByteArray();
    byte[] out = new byte[prefix.length + body.length];
    System.arraycopy(prefix, 0, out, 0, prefix.length);
    System.arraycopy(body, 0, out, prefix.length, body.length);
    return out;
  }

  /**
   * Whether the record's kind needs an authority's signature: every kind but {@code
   * contribution} and {@code refund} (docs/authority.md).
   */
  public static boolean isPrivileged(Envelope record) {
    return switch (record.getPayloadCase()) {
      case CONTRIBUTION, REFUND, PAYLOAD_NOT_SET -> false;
      default -> true;
    };
  }

  /** The record's kind as the ledger names it ({@code contribution}, {@code person}, …). */
  public static String kind(Envelope record) {
    return switch (record.getPayloadCase()) {
      case CONTRIBUTION -> "contribution";
      case REFUND -> "refund";
      case BENEFIT_ASSIGNED -> "benefit_assigned";
      case BENEFIT_STATUS -> "benefit_status";
      case BENEFIT_PAID -> "benefit_paid";
      case BENEFIT_RETURNED -> "benefit_returned";
      case PERSON -> "person";
      case PERSON_CHANGED -> "person_changed";
      case MERGED -> "merged";
      case MERGE_TRANSFER -> "merge_transfer";
      case PAYLOAD_NOT_SET -> "none";
    };
  }
}
