package kz.siledger.client;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.LocalDate;
import si.ledger.v1.Common.PaymentDocument;
import si.ledger.v1.Common.Signature;
import si.ledger.v1.Events.Envelope;

/**
 * The ledger's checks of a record, in the ledger's order ({@code
 * ledger_proto::convert::envelope_from_wire} and {@code texts::check_texts}), so that a
 * record with several faults is refused for the same field as the projector would refuse it.
 * Every check and its source is in docs/rules.md; identifiers are Kazakhstan's (12-digit IIN
 * and BIN, DOMAIN.md §2).
 */
final class Checks {
  private Checks() {}

  /** A value's fault, before its field is known. */
  static final class Refused extends Exception {
    private static final long serialVersionUID = 1L;

    Refused(String reason) {
      super(reason, null, false, false);
    }
  }

  private static InvalidRecordException at(String field, String reason) {
    return new InvalidRecordException(field, reason);
  }

  private static InvalidRecordException at(String field, Refused r) {
    return new InvalidRecordException(field, r.getMessage());
  }

  /** Checks a canonical envelope; throws naming the first field the ledger would refuse. */
  static void check(Envelope e) {
    Texts.check(e);
    if (e.hasSignature()) {
      signature(e.getSignature());
    }
    eventId("event_id", e.getEventId());
    iin("iin", e.getIin());
    switch (e.getPayloadCase()) {
      case CONTRIBUTION -> {
        var c = e.getContribution();
        if (!c.hasPayment()) {
          throw at("contribution.payment", "is required");
        }
        String ppc = payment("contribution.payment", c.getPayment());
        if (!ppc.equals("012") && !ppc.equals("017")) {
          throw at(
              "contribution.payment.ppc", "a contribution line must have ppc 012 or 017, got " + ppc);
        }
        if (!c.hasPerson()) {
          throw at("contribution.person", "is required");
        }
        var p = c.getPerson();
        period("contribution.period", c.getPeriod());
        amount("contribution.amount", c.getAmount());
        required("contribution.person.surname", p.getSurname());
        required("contribution.person.name", p.getName());
        date("contribution.person.birth_date", p.getBirthDate());
      }
      case REFUND -> {
        var r = e.getRefund();
        String ppc = ppc("refund.refunded_ppc", r.getRefundedPpc());
        if (!ppc.equals("012") && !ppc.equals("017")) {
          throw at("refund.refunded_ppc", "must be 012 or 017, got " + ppc);
        }
        if (Integer.compareUnsigned(r.getApplicationSize(), 10) > 0) {
          throw at(
              "refund.application_size",
              "an application names at most 10 employees (seed 003), got "
                  + Integer.toUnsignedString(r.getApplicationSize()));
        }
        required("refund.application_id", r.getApplicationId());
        period("refund.period", r.getPeriod());
        amount("refund.amount", r.getAmount());
        payer("refund.payer_id", r.getPayerId());
        date("refund.decided_on", r.getDecidedOn());
        if (r.hasPayment()) {
          payment("refund.payment", r.getPayment());
        }
      }
      case BENEFIT_ASSIGNED -> {
        var b = e.getBenefitAssigned();
        String type = required("benefit_assigned.benefit_type", b.getBenefitType());
        if (!type.matches("070[1-5]")) {
          throw at(
              "benefit_assigned.benefit_type", "benefit type must be 0701-0705, got \"" + type + "\"");
        }
        if (Integer.compareUnsigned(b.getWorkCapacityLossPercent(), 100) > 0) {
          throw at("benefit_assigned.work_capacity_loss_percent", "must be 0-100");
        }
        String start = period("benefit_assigned.start_period", b.getStartPeriod());
        if (!b.getEndPeriod().isEmpty()) {
          String end = period("benefit_assigned.end_period", b.getEndPeriod());
          if (end.compareTo(start) < 0) {
            throw at("benefit_assigned.end_period", "is before start_period");
          }
        }
        required("benefit_assigned.benefit_id", b.getBenefitId());
        date("benefit_assigned.applied_on", b.getAppliedOn());
        optDate("benefit_assigned.risk_date", b.getRiskDate());
        date("benefit_assigned.decided_on", b.getDecidedOn());
        amount("benefit_assigned.monthly_amount", b.getMonthlyAmount());
        optMoney("benefit_assigned.average_monthly_income", b.getAverageMonthlyIncome());
      }
      case BENEFIT_STATUS -> {
        var s = e.getBenefitStatus();
        int status = s.getStatusValue();
        if (status < 1 || status > 3) {
          throw at("benefit_status.status", "must be SUSPENDED, RESUMED or TERMINATED");
        }
        required("benefit_status.benefit_id", s.getBenefitId());
        date("benefit_status.effective_on", s.getEffectiveOn());
      }
      case BENEFIT_PAID -> {
        var p = e.getBenefitPaid();
        optMoney("benefit_paid.pension_contribution_withheld", p.getPensionContributionWithheld());
        required("benefit_paid.benefit_id", p.getBenefitId());
        period("benefit_paid.period", p.getPeriod());
        amount("benefit_paid.amount", p.getAmount());
        if (p.hasPayment()) {
          payment("benefit_paid.payment", p.getPayment());
        }
      }
      case BENEFIT_RETURNED -> {
        var r = e.getBenefitReturned();
        required("benefit_returned.benefit_id", r.getBenefitId());
        period("benefit_returned.period", r.getPeriod());
        amount("benefit_returned.amount", r.getAmount());
        if (r.hasPayment()) {
          payment("benefit_returned.payment", r.getPayment());
        }
      }
      case PERSON -> {
        var p = e.getPerson();
        person(
            "person", p.getSex(), p.hasDocument() ? p.getDocument().getIssuedOn() : null,
            p.getSurname(), p.getBirthDate(), p.getEffectiveOn(), p.getDeceasedOn());
      }
      case PERSON_CHANGED -> {
        var p = e.getPersonChanged();
        person(
            "person_changed", p.getSex(), p.hasDocument() ? p.getDocument().getIssuedOn() : null,
            p.getSurname(), p.getBirthDate(), p.getEffectiveOn(), p.getDeceasedOn());
      }
      case MERGED -> {
        var m = e.getMerged();
        iin("merged.into_iin", m.getIntoIin());
        required("merged.reason", m.getReason());
        date("merged.decided_on", m.getDecidedOn());
      }
      case MERGE_TRANSFER ->
          throw at(
              "merge_transfer",
              "is written by the ledger's projector when identifiers merge, never by a producer");
      case PAYLOAD_NOT_SET ->
          throw at(
              "payload",
              "is required: one of contribution, refund, benefit_assigned, benefit_status, "
                  + "benefit_paid, benefit_returned, person, person_changed, merged");
    }
  }

  private static void person(
      String at, String sex, String issuedOn, String surname, String birthDate,
      String effectiveOn, String deceasedOn) {
    if (!sex.isEmpty() && !sex.equals("M") && !sex.equals("F")) {
      throw at(at + ".sex", "must be \"M\" or \"F\", got \"" + sex + "\"");
    }
    if (issuedOn != null) {
      optDate(at + ".document.issued_on", issuedOn);
    }
    required(at + ".surname", surname);
    optDate(at + ".birth_date", birthDate);
    optDate(at + ".effective_on", effectiveOn);
    optDate(at + ".deceased_on", deceasedOn);
  }

  /** A payment document's fields; returns its PPC. */
  private static String payment(String at, PaymentDocument p) {
    String ppc = ppc(at + ".ppc", p.getPpc());
    optDate(at + ".document_date", p.getDocumentDate());
    date(at + ".received_on", p.getReceivedOn());
    optDate(at + ".dispatched_on", p.getDispatchedOn());
    payer(at + ".payer_id", p.getPayerId());
    optMoney(at + ".total_amount", p.getTotalAmount());
    return ppc;
  }

  static void signature(Signature s) {
    String id = s.getKeyId();
    int bytes = id.getBytes(StandardCharsets.UTF_8).length;
    if (id.isEmpty() || bytes > 64) {
      throw at(
          "signature.key_id",
          "must be 1-64 characters (a key's RFC 7638 thumbprint), got " + bytes);
    }
    for (int i = 0; i < id.length(); ) {
      int c = id.codePointAt(i);
      i += Character.charCount(c);
      boolean base64url =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_';
      if (!base64url) {
        throw at("signature.key_id", "'" + Character.toString(c) + "' is not a base64url character");
      }
    }
    if (s.getValue().size() != 64) {
      throw at(
          "signature.value", "an Ed25519 signature has 64 bytes, got " + s.getValue().size());
    }
  }

  private static String required(String field, String v) {
    if (v.isEmpty()) {
      throw at(field, "is required");
    }
    return v;
  }

  static void eventId(String field, String v) {
    required(field, v);
    int bytes = v.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > 128) {
      throw at(field, "must be 1-128 characters, got " + bytes);
    }
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c < 0x21 || c > 0x7E) {
        throw at(field, "must be printable ASCII without spaces");
      }
    }
  }

  private static String ppc(String field, String v) {
    required(field, v);
    if (!(v.length() == 3 && asciiDigits(v))) {
      throw at(field, "payment purpose code must be 3 digits, got \"" + v + "\"");
    }
    return v;
  }

  /** A person's IIN: 12 digits, check digit, and not a BIN (5th digit 4-6). */
  static void iin(String field, String v) {
    required(field, v);
    int[] d;
    try {
      d = digits(v);
    } catch (Refused r) {
      throw at(field, r);
    }
    if (d[4] >= 4 && d[4] <= 6) {
      throw at(
          field,
          "5th digit " + d[4] + " is a legal entity's type: this is a BIN, not a person's IIN");
    }
  }

  /** A payer: a BIN, or an individual entrepreneur's IIN (12 digits and the check digit). */
  private static void payer(String field, String v) {
    required(field, v);
    try {
      digits(v);
    } catch (Refused r) {
      throw at(field, r);
    }
  }

  /** Twelve ASCII digits whose last is the check digit of the first eleven (DOMAIN.md §2). */
  static int[] digits(String s) throws Refused {
    int position = 0;
    for (int i = 0; i < s.length(); ) {
      int c = s.codePointAt(i);
      i += Character.charCount(c);
      position++;
      if (c < '0' || c > '9') {
        String found = "'" + Character.toString(c) + "'";
        if (Character.isDigit(c)) {
          throw new Refused(
              String.format(
                  "contains a non-ASCII digit %s (U+%04X) at position %d: only 0-9 are accepted",
                  found, c, position));
        }
        throw new Refused(
            "contains " + found + " at position " + position + ": only digits 0-9 are accepted");
      }
    }
    if (s.length() != 12) {
      throw new Refused("must be exactly 12 digits, got " + s.length() + " characters");
    }
    int[] d = new int[12];
    for (int i = 0; i < 12; i++) {
      d[i] = s.charAt(i) - '0';
    }
    int check = checkDigit(d);
    if (check < 0) {
      throw new Refused("no valid check digit exists for these 11 digits (never issued)");
    }
    if (check != d[11]) {
      throw new Refused(
          "check digit does not match (expected " + check + ", found " + d[11] + ")");
    }
    return d;
  }

  /** The check digit of the first 11 digits, or -1 when both weightings give 10. */
  static int checkDigit(int[] d) {
    int first = 0;
    int second = 0;
    for (int i = 0; i < 11; i++) {
      first += d[i] * (i + 1);
      second += d[i] * (i < 9 ? i + 3 : i - 8);
    }
    if (first % 11 != 10) {
      return first % 11;
    }
    return second % 11 != 10 ? second % 11 : -1;
  }

  private static boolean asciiDigits(String v) {
    for (int i = 0; i < v.length(); i++) {
      if (v.charAt(i) < '0' || v.charAt(i) > '9') {
        return false;
      }
    }
    return true;
  }

  private static void date(String field, String v) {
    required(field, v);
    try {
      date(v);
    } catch (Refused r) {
      throw at(field, r);
    }
  }

  private static void optDate(String field, String v) {
    if (!v.isEmpty()) {
      date(field, v);
    }
  }

  /** "YYYY-MM-DD", a real day of a year in 1900-2200. */
  static LocalDate date(String v) throws Refused {
    boolean shape =
        v.length() == 10
            && v.charAt(4) == '-'
            && v.charAt(7) == '-'
            && asciiDigits(v.substring(0, 4) + v.substring(5, 7) + v.substring(8));
    if (!shape) {
      throw new Refused("not a date \"YYYY-MM-DD\": \"" + v + "\"");
    }
    int year = Integer.parseInt(v.substring(0, 4));
    if (year < 1900 || year > 2200) {
      throw new Refused("year out of 1900-2200: \"" + v + "\"");
    }
    try {
      return LocalDate.of(
          year, Integer.parseInt(v.substring(5, 7)), Integer.parseInt(v.substring(8)));
    } catch (DateTimeException e) {
      throw new Refused("not a date \"YYYY-MM-DD\": \"" + v + "\"");
    }
  }

  /** "YYYY-MM" of a year in 1900-2200; returned as it is (it orders as text). */
  private static String period(String field, String v) {
    required(field, v);
    boolean shape =
        v.length() == 7
            && v.charAt(4) == '-'
            && asciiDigits(v.substring(0, 4) + v.substring(5));
    if (shape) {
      int year = Integer.parseInt(v.substring(0, 4));
      int month = Integer.parseInt(v.substring(5));
      if (year >= 1900 && year <= 2200 && month >= 1 && month <= 12) {
        return v;
      }
    }
    throw at(field, "not a period \"YYYY-MM\": \"" + v + "\"");
  }

  /** A strictly positive amount. */
  private static void amount(String field, String v) {
    required(field, v);
    BigDecimal m;
    try {
      m = money(v);
    } catch (Refused r) {
      throw at(field, r);
    }
    if (m.signum() <= 0) {
      throw at(field, "must be greater than zero, got " + Canonical.spell(m));
    }
  }

  private static void optMoney(String field, String v) {
    if (!v.isEmpty()) {
      try {
        money(v);
      } catch (Refused r) {
        throw at(field, r);
      }
    }
  }

  private static final BigDecimal MAX_AMOUNT = new BigDecimal("1000000000000");

  /**
   * An amount in tenge: Java's {@code BigDecimal(String)} grammar (sign, digits with at most
   * one point, an exponent of at most three digits), at most 64 characters, at most two
   * decimals once zeros past the second are dropped, at most a trillion tenge either way.
   */
  static BigDecimal money(String s) throws Refused {
    String syntax = "not a decimal amount like \"4250.00\": \"" + excerpt(s) + "\"";
    String body = s.startsWith("-") || s.startsWith("+") ? s.substring(1) : s;
    int e = -1;
    for (int i = 0; i < body.length() && e < 0; i++) {
      if (body.charAt(i) == 'e' || body.charAt(i) == 'E') {
        e = i;
      }
    }
    String number = e < 0 ? body : body.substring(0, e);
    if (e >= 0) {
      String exponent = body.substring(e + 1);
      String digits =
          exponent.startsWith("-") || exponent.startsWith("+") ? exponent.substring(1) : exponent;
      if (digits.isEmpty() || digits.length() > 3 || !asciiDigits(digits)) {
        throw new Refused(syntax);
      }
    }
    int point = number.indexOf('.');
    String whole = point < 0 ? number : number.substring(0, point);
    String fraction = point < 0 ? "" : number.substring(point + 1);
    boolean digitsOk =
        !(whole.isEmpty() && fraction.isEmpty()) && asciiDigits(whole) && asciiDigits(fraction);
    if (!digitsOk || s.getBytes(StandardCharsets.UTF_8).length > 64) {
      throw new Refused(syntax);
    }
    BigDecimal value = new BigDecimal(s).stripTrailingZeros();
    if (value.signum() == 0) {
      return BigDecimal.ZERO;
    }
    if (value.scale() > 2) {
      throw new Refused("more than two decimals: \"" + excerpt(s) + "\"");
    }
    if (value.abs().compareTo(MAX_AMOUNT) > 0) {
      throw new Refused("amount \"" + excerpt(s) + "\" is out of range");
    }
    return value;
  }

  /** A value quoted in a reason: its first 40 characters. */
  private static String excerpt(String s) {
    int cut = s.offsetByCodePoints(0, Math.min(40, s.codePointCount(0, s.length())));
    return cut == s.length()
        ? s
        : s.substring(0, cut) + "… (" + s.getBytes(StandardCharsets.UTF_8).length + " bytes)";
  }
}
