package kz.siledger.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;
import si.ledger.v1.Common.PaymentDocument;
import si.ledger.v1.Common.PersonName;
import si.ledger.v1.Events.BenefitPaid;
import si.ledger.v1.Events.Envelope;
import si.ledger.v1.Events.PersonRegistered;

class RecordsTest {
  static PaymentDocument order() {
    return PaymentDocument.newBuilder()
        .setDocumentNumber("PP-1")
        .setDocumentDate("2026-01-09")
        .setReceivedOn("2026-01-10")
        .setPpc("012")
        .setPayerId("150340000179")
        .setPayerName("ТОО «Береке»")
        .setRecipientName("НАО «Государственная корпорация»")
        .build();
  }

  static String vector(String name, String field) throws Exception {
    for (var c : VectorsTest.vectors().getAsJsonArray("cases")) {
      JsonObject o = c.getAsJsonObject();
      if (o.get("name").getAsString().equals(name)) {
        return o.get(field).getAsString();
      }
    }
    throw new AssertionError("no vector " + name);
  }

  /** The builder gives the vector's bytes: total and line count from the lines. */
  @Test
  void a_payment_order_built_line_by_line_is_the_vectors_record() throws Exception {
    List<Envelope> lines =
        new PaymentOrder("bank-42", order())
            .line("bank-42/PP-1/1", "900517400015", "2025-12", "27050",
                PersonName.newBuilder().setSurname("Ахметова").setName("Айгерим")
                    .setPatronymic("Болатовна").setBirthDate("1990-05-17").build())
            .line("bank-42/PP-1/2", "851201003007", "2025-12", "27050.0",
                PersonName.newBuilder().setSurname(" Серике\u0306ев ").setName("Даурен\t")
                    .setBirthDate("1985-12-01").build())
            .lines();
    assertEquals(2, lines.size());
    assertEquals(
        vector("contribution, already canonical", "canonical_hex"),
        VectorsTest.HEX.formatHex(lines.get(0).toByteArray()));
    assertEquals("54100.00", lines.get(1).getContribution().getPayment().getTotalAmount());
    // Trimmed, and е + U+0306 composed into ӗ (NFC); the tab after the name is white space.
    assertEquals("Серик\u04d7ев", lines.get(1).getContribution().getPerson().getSurname());
    assertEquals("Даурен", lines.get(1).getContribution().getPerson().getName());
  }

  @Test
  void a_bad_line_is_refused_by_its_field() {
    PaymentOrder o = new PaymentOrder("bank-42", order());
    PersonName p = PersonName.newBuilder().setSurname("А").setName("Б")
        .setBirthDate("1990-05-17").build();
    var e = assertThrows(InvalidRecordException.class,
        () -> o.line("x/1", "900517400016", "2025-12", "100", p));
    assertEquals("iin", e.field());
    e = assertThrows(InvalidRecordException.class,
        () -> o.line("x/1", "900517400015", "2025-12", "1.005", p));
    assertEquals("contribution.amount", e.field());
    o.line("x/1", "900517400015", "2025-12", "100", p);
    o.line("x/1", "851201003007", "2025-12", "100", p);
    e = assertThrows(InvalidRecordException.class, o::lines);
    assertEquals("event_id", e.field());
  }

  @Test
  void an_order_whose_total_disagrees_with_its_lines_is_refused() {
    PaymentOrder o = new PaymentOrder("bank-42", order().toBuilder().setTotalAmount("500").build());
    o.line("x/1", "900517400015", "2025-12", "100", PersonName.newBuilder().setSurname("А")
        .setName("Б").setBirthDate("1990-05-17").build());
    var e = assertThrows(InvalidRecordException.class, o::lines);
    assertEquals("contribution.payment.total_amount", e.field());
  }

  @Test
  void every_kind_has_a_builder_that_checks_it() {
    var e = assertThrows(InvalidRecordException.class, () -> Records.person("r/1",
        "900517400015", "register", PersonRegistered.newBuilder().setSex("X").build()));
    assertEquals("person.sex", e.field());
    Envelope paid = Records.benefitPaid("f/1", "900517400015", "fund",
        BenefitPaid.newBuilder().setBenefitId("B-1").setPeriod("2026-01").setAmount("180000")
            .build());
    assertEquals("180000.00", paid.getBenefitPaid().getAmount());
    assertEquals(true, Records.isPrivileged(paid));
    assertEquals("benefit_paid", Records.kind(paid));
  }

  @Test
  void a_refusal_names_the_record() {
    PaymentOrder o = new PaymentOrder("bank-42", order());
    var e = assertThrows(InvalidRecordException.class,
        () -> o.line("bank-42/PP-9/3", "900517400016", "2025-12", "100",
            PersonName.newBuilder().setSurname("А").setName("Б").setBirthDate("1990-05-17")
                .build()));
    assertEquals("bank-42/PP-9/3", e.eventId());
    assertEquals("iin", e.field());
    assertEquals(true, e.getMessage().startsWith("record bank-42/PP-9/3: iin: "));
  }

  @Test
  void what_this_jdk_cannot_spell_as_the_ledger_is_refused() {
    PaymentOrder o = new PaymentOrder("bank-42", order());
    for (String surname : new String[] {"Ах\uD800", "Ах\u0378"}) {
      var e = assertThrows(InvalidRecordException.class,
          () -> o.line("x/1", "900517400015", "2025-12", "100",
              PersonName.newBuilder().setSurname(surname).setName("Б")
                  .setBirthDate("1990-05-17").build()));
      assertEquals("contribution.person.surname", e.field(), e.getMessage());
    }
  }

  /** protobuf-java's own parser brings an earlier oneof case back; Records.parse does not. */
  @Test
  void a_value_is_parsed_as_the_ledger_parses_it() throws Exception {
    var first = si.ledger.v1.Events.ContributionPaid.newBuilder().setAmount("100.00").build();
    var refund = si.ledger.v1.Events.ContributionRefunded.newBuilder().setAmount("1").build();
    var second = si.ledger.v1.Events.ContributionPaid.newBuilder().setPeriod("2025-12").build();
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    b.writeBytes(Envelope.newBuilder().setContribution(first).build().toByteArray());
    b.writeBytes(Envelope.newBuilder().setRefund(refund).build().toByteArray());
    b.writeBytes(Envelope.newBuilder().setContribution(second).build().toByteArray());
    assertEquals("", Records.parse(b.toByteArray()).getContribution().getAmount());
    // patronymic (field 3 of PersonName, a string) as a varint: undecodable for the ledger.
    byte[] person = {0x18, 0x01};
    byte[] contribution = new byte[] {0x22, 0x02, person[0], person[1]};
    byte[] envelope = new byte[] {0x52, 0x04, contribution[0], contribution[1], contribution[2],
        contribution[3]};
    assertThrows(com.google.protobuf.InvalidProtocolBufferException.class,
        () -> Records.parse(envelope));
  }
}
