package kz.siledger.client;

import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;
import com.google.protobuf.UnknownFieldSet;
import java.math.BigDecimal;
import java.text.Normalizer;
import si.ledger.v1.Common.IdentityDocument;
import si.ledger.v1.Common.PaymentDocument;
import si.ledger.v1.Common.PersonName;
import si.ledger.v1.Events.Envelope;

/**
 * One spelling per fact, as the ledger writes it ({@code ledger_proto::canonical},
 * docs/rules.md): amounts with two decimals ({@code "600"}, {@code "6E+2"} are {@code
 * "600.00"}), every text in Unicode NFC, names of people and payers trimmed with inner runs
 * of white space (Unicode's White_Space property) as one space, sex {@code M}/{@code F}. A
 * value that does not parse is left as it is, for {@link Checks} to refuse by its field.
 * Unknown fields are dropped, as the ledger's decoder drops them.
 */
final class Canonical {
  private Canonical() {}

  static Envelope canonicalize(Envelope in) {
    Envelope.Builder e = withoutUnknownFields(in).toBuilder();
    e.setSource(text(e.getSource()));
    switch (e.getPayloadCase()) {
      case CONTRIBUTION -> {
        var c = e.getContributionBuilder();
        c.setAmount(money(c.getAmount()));
        if (c.hasPayment()) {
          c.setPayment(payment(c.getPayment()));
        }
        if (c.hasPerson()) {
          PersonName p = c.getPerson();
          c.setPerson(
              p.toBuilder()
                  .setSurname(name(p.getSurname()))
                  .setName(name(p.getName()))
                  .setPatronymic(name(p.getPatronymic())));
        }
      }
      case REFUND -> {
        var r = e.getRefundBuilder();
        r.setApplicationId(text(r.getApplicationId()));
        r.setReason(text(r.getReason()));
        r.setAmount(money(r.getAmount()));
        if (r.hasPayment()) {
          r.setPayment(payment(r.getPayment()));
        }
      }
      case BENEFIT_ASSIGNED -> {
        var b = e.getBenefitAssignedBuilder();
        b.setBenefitId(text(b.getBenefitId()));
        b.setMonthlyAmount(money(b.getMonthlyAmount()));
        b.setAverageMonthlyIncome(money(b.getAverageMonthlyIncome()));
      }
      case BENEFIT_STATUS -> {
        var s = e.getBenefitStatusBuilder();
        s.setBenefitId(text(s.getBenefitId()));
        s.setReason(text(s.getReason()));
      }
      case BENEFIT_PAID -> {
        var b = e.getBenefitPaidBuilder();
        b.setBenefitId(text(b.getBenefitId()));
        b.setAmount(money(b.getAmount()));
        b.setPensionContributionWithheld(money(b.getPensionContributionWithheld()));
        if (b.hasPayment()) {
          b.setPayment(payment(b.getPayment()));
        }
      }
      case BENEFIT_RETURNED -> {
        var b = e.getBenefitReturnedBuilder();
        b.setBenefitId(text(b.getBenefitId()));
        b.setAmount(money(b.getAmount()));
        if (b.hasPayment()) {
          b.setPayment(payment(b.getPayment()));
        }
      }
      case PERSON -> person(e.getPersonBuilder());
      case PERSON_CHANGED -> person(e.getPersonChangedBuilder());
      case MERGED -> {
        var m = e.getMergedBuilder();
        m.setReason(text(m.getReason()));
      }
      default -> {
        // merge_transfer is the projector's (Checks refuses it); no payload: refused too.
      }
    }
    return e.build();
  }

  private static Envelope withoutUnknownFields(Envelope e) {
    Envelope.Builder b = e.toBuilder();
    strip(b);
    return b.build();
  }

  /** Clears the unknown fields of a message and of every message inside it. */
  private static void strip(Message.Builder b) {
    b.setUnknownFields(UnknownFieldSet.getDefaultInstance());
    for (Descriptors.FieldDescriptor f : b.getAllFields().keySet()) {
      if (f.getJavaType() == Descriptors.FieldDescriptor.JavaType.MESSAGE && !f.isRepeated()) {
        strip(b.getFieldBuilder(f));
      }
    }
  }

  /**
   * A register record's person fields, alike (name and number) in {@code PersonRegistered} and
   * {@code PersonDataChanged}: spelled by field name, so that one method serves both messages,
   * which protobuf-java gives no common type.
   */
  private static void person(Message.Builder p) {
    for (String field : new String[] {"surname", "name", "patronymic"}) {
      respell(p, field, Canonical::name);
    }
    for (String field : new String[] {"address", "postcode", "citizenship"}) {
      respell(p, field, Canonical::text);
    }
    respell(p, "sex", Canonical::sex);
    Descriptors.FieldDescriptor document = p.getDescriptorForType().findFieldByName("document");
    if (p.hasField(document)) {
      p.setField(document, document((IdentityDocument) p.getField(document)));
    }
  }

  private static void respell(
      Message.Builder m, String field, java.util.function.UnaryOperator<String> spelling) {
    Descriptors.FieldDescriptor f = m.getDescriptorForType().findFieldByName(field);
    m.setField(f, spelling.apply((String) m.getField(f)));
  }

  private static PaymentDocument payment(PaymentDocument p) {
    return p.toBuilder()
        .setDocumentNumber(text(p.getDocumentNumber()))
        .setPayerName(name(p.getPayerName()))
        .setRecipientName(name(p.getRecipientName()))
        .setTotalAmount(money(p.getTotalAmount()))
        .build();
  }

  private static IdentityDocument document(IdentityDocument d) {
    return d.toBuilder()
        .setSeries(text(d.getSeries()))
        .setNumber(text(d.getNumber()))
        .setIssuer(text(d.getIssuer()))
        .build();
  }

  private static String sex(String s) {
    return switch (s) {
      case "m" -> "M";
      case "f" -> "F";
      default -> s;
    };
  }

  /** Unicode NFC. */
  static String text(String v) {
    return Normalizer.normalize(v, Normalizer.Form.NFC);
  }

  /** NFC, trimmed, inner runs of White_Space as one space. */
  static String name(String v) {
    String nfc = text(v);
    StringBuilder out = new StringBuilder(nfc.length());
    boolean space = false;
    for (int i = 0; i < nfc.length(); ) {
      int c = nfc.codePointAt(i);
      i += Character.charCount(c);
      if (isWhiteSpace(c)) {
        space = out.length() > 0;
      } else {
        if (space) {
          out.append(' ');
          space = false;
        }
        out.appendCodePoint(c);
      }
    }
    return out.toString();
  }

  /**
   * Unicode's White_Space property (PropList.txt), which Rust's {@code split_whitespace}
   * follows. Not {@link Character#isWhitespace}: that one leaves out the no-break spaces and
   * takes in the control characters U+001C-U+001F.
   */
  static boolean isWhiteSpace(int c) {
    return (c >= 0x09 && c <= 0x0D)
        || c == 0x20
        || c == 0x85
        || c == 0xA0
        || c == 0x1680
        || (c >= 0x2000 && c <= 0x200A)
        || c == 0x2028
        || c == 0x2029
        || c == 0x202F
        || c == 0x205F
        || c == 0x3000;
  }

  /** An amount in its canonical spelling; anything that is not an amount as it was. */
  static String money(String v) {
    if (v.isEmpty()) {
      return v;
    }
    try {
      return spell(Checks.money(v));
    } catch (Checks.Refused notAnAmount) {
      return v;
    }
  }

  static String spell(BigDecimal amount) {
    return amount.setScale(2).toPlainString();
  }
}
