package kz.siledger.client;

import java.nio.charset.StandardCharsets;
import si.ledger.v1.Common.IdentityDocument;
import si.ledger.v1.Common.PaymentDocument;
import si.ledger.v1.Events.Envelope;

/**
 * What a text field may hold ({@code ledger_proto::texts}, inputs §3): no control
 * characters (Unicode category Cc; a line break or tab only in free texts: reasons), no
 * bidirectional overrides (U+202A-U+202E, U+2066-U+2069), no byte-order mark, and at most
 * 200 characters for a name, 500 for an organisation or address, 128 for a code, 2000 for a
 * free text.
 *
 * <p>Two refusals of this client's own, where the ledger accepts: a lone surrogate (not Unicode
 * text; protobuf-java would send it as '?'), and a character the running JDK's Unicode
 * version does not know (Java 17 has Unicode 13, the ledger a later one). Unicode's
 * normalization stability policy makes NFC the same in every version for assigned characters
 * only: a newer character could be composed by the ledger and not here, and a record signed
 * here would then not verify there.
 */
final class Texts {
  private Texts() {}

  private static final int NAME = 200;
  private static final int ORG = 500;
  private static final int CODE = 128;
  private static final int FREE = 2000;

  private static void check(String field, String v, int max) {
    boolean free = max == FREE;
    int i = 0;
    for (int at = 0; at < v.length(); i++) {
      int c = v.codePointAt(at);
      at += Character.charCount(c);
      boolean allowedSpace = free && (c == '\n' || c == '\r' || c == '\t');
      boolean bidi = (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
      if ((Character.getType(c) == Character.CONTROL && !allowedSpace) || bidi || c == 0xFEFF) {
        throw new InvalidRecordException(
            field,
            String.format("contains the control character U+%04X at position %d", c, i + 1));
      }
      if (c >= 0xD800 && c <= 0xDFFF) {
        // Not Unicode text: protobuf-java would send it as '?'.
        throw new InvalidRecordException(
            field,
            String.format(
                "contains the lone surrogate U+%04X at position %d: not Unicode text", c, i + 1));
      }
      if (Character.getType(c) == Character.UNASSIGNED && !isNoncharacter(c)) {
        throw new InvalidRecordException(
            field,
            String.format(
                "contains U+%04X at position %d, a character this Java's Unicode does not know:"
                    + " the ledger may spell it otherwise (NFC), so it is refused rather than"
                    + " sent or signed in another spelling",
                c, i + 1));
      }
      if (i >= max) {
        throw new InvalidRecordException(
            field,
            "is longer than " + max + " characters ("
                + v.getBytes(StandardCharsets.UTF_8).length + " bytes)");
      }
    }
  }

  /** U+FDD0-U+FDEF and the last two code points of each plane: never assigned, never composed. */
  private static boolean isNoncharacter(int c) {
    return (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE;
  }

  private static void payment(String at, PaymentDocument p) {
    check(at + ".document_number", p.getDocumentNumber(), CODE);
    check(at + ".payer_name", p.getPayerName(), ORG);
    check(at + ".recipient_name", p.getRecipientName(), ORG);
  }

  private static void person(
      String at, String surname, String name, String patronymic, String address,
      String postcode, String citizenship, String sex, IdentityDocument document) {
    check(at + ".surname", surname, NAME);
    check(at + ".name", name, NAME);
    check(at + ".patronymic", patronymic, NAME);
    check(at + ".address", address, ORG);
    check(at + ".postcode", postcode, CODE);
    check(at + ".citizenship", citizenship, CODE);
    check(at + ".sex", sex, CODE);
    if (document != null) {
      check(at + ".document.series", document.getSeries(), CODE);
      check(at + ".document.number", document.getNumber(), CODE);
      check(at + ".document.issuer", document.getIssuer(), ORG);
    }
  }

  static void check(Envelope e) {
    check("source", e.getSource(), CODE);
    switch (e.getPayloadCase()) {
      case CONTRIBUTION -> {
        var c = e.getContribution();
        if (c.hasPayment()) {
          payment("contribution.payment", c.getPayment());
        }
        if (c.hasPerson()) {
          check("contribution.person.surname", c.getPerson().getSurname(), NAME);
          check("contribution.person.name", c.getPerson().getName(), NAME);
          check("contribution.person.patronymic", c.getPerson().getPatronymic(), NAME);
        }
      }
      case REFUND -> {
        var r = e.getRefund();
        check("refund.application_id", r.getApplicationId(), CODE);
        check("refund.reason", r.getReason(), FREE);
        if (r.hasPayment()) {
          payment("refund.payment", r.getPayment());
        }
      }
      case BENEFIT_ASSIGNED ->
          check("benefit_assigned.benefit_id", e.getBenefitAssigned().getBenefitId(), CODE);
      case BENEFIT_STATUS -> {
        check("benefit_status.benefit_id", e.getBenefitStatus().getBenefitId(), CODE);
        check("benefit_status.reason", e.getBenefitStatus().getReason(), FREE);
      }
      case BENEFIT_PAID -> {
        var b = e.getBenefitPaid();
        check("benefit_paid.benefit_id", b.getBenefitId(), CODE);
        if (b.hasPayment()) {
          payment("benefit_paid.payment", b.getPayment());
        }
      }
      case BENEFIT_RETURNED -> {
        var b = e.getBenefitReturned();
        check("benefit_returned.benefit_id", b.getBenefitId(), CODE);
        if (b.hasPayment()) {
          payment("benefit_returned.payment", b.getPayment());
        }
      }
      case PERSON -> {
        var p = e.getPerson();
        person(
            "person", p.getSurname(), p.getName(), p.getPatronymic(), p.getAddress(),
            p.getPostcode(), p.getCitizenship(), p.getSex(),
            p.hasDocument() ? p.getDocument() : null);
      }
      case PERSON_CHANGED -> {
        var p = e.getPersonChanged();
        person(
            "person_changed", p.getSurname(), p.getName(), p.getPatronymic(), p.getAddress(),
            p.getPostcode(), p.getCitizenship(), p.getSex(),
            p.hasDocument() ? p.getDocument() : null);
      }
      case MERGED -> check("merged.reason", e.getMerged().getReason(), FREE);
      case MERGE_TRANSFER -> check("merge_transfer.reason", e.getMergeTransfer().getReason(), FREE);
      case PAYLOAD_NOT_SET -> {}
    }
  }
}
