package kz.siledger.client.example;

import java.nio.file.Path;
import java.util.Properties;
import kz.siledger.client.LedgerProducer;
import kz.siledger.client.RecordSigner;
import kz.siledger.client.Records;
import si.ledger.v1.Events.BenefitAssigned;
import si.ledger.v1.Events.BenefitPaid;
import si.ledger.v1.Events.PersonRegistered;

/**
 * An authority publishes signed records: the register a person, the Fund a benefit assigned
 * and paid. Usage: {@code PublishSignedRecords BOOTSTRAP TOPIC KEY.pem}, the key as {@code
 * si-ledger keygen} writes it (in production the register and the Fund each sign with their
 * own). The README's example; the test suite runs it against Apache Kafka.
 */
public final class PublishSignedRecords {
  private PublishSignedRecords() {}

  public static void main(String[] args) throws Exception {
    Properties cluster = new Properties();
    cluster.put("bootstrap.servers", args[0]);
    RecordSigner key = RecordSigner.fromPemFile(Path.of(args[2]));
    System.out.println("signing with key " + key.keyId());

    var person =
        Records.person("register/900517400015/1", "900517400015", "register-gateway",
            PersonRegistered.newBuilder()
                .setSurname("Ахметова")
                .setName("Айгерим")
                .setBirthDate("1990-05-17")
                .setSex("F")
                .setEffectiveOn("1990-05-17")
                .build());
    var assigned =
        Records.benefitAssigned("fund/B-1/assigned", "900517400015", "fund",
            BenefitAssigned.newBuilder()
                .setBenefitId("B-1")
                .setBenefitType("0704") // maternity
                .setAppliedOn("2026-01-05")
                .setDecidedOn("2026-01-12")
                .setStartPeriod("2026-01")
                .setEndPeriod("2026-04")
                .setMonthlyAmount("180000")
                .build());
    var paid =
        Records.benefitPaid("fund/B-1/2026-01", "900517400015", "fund",
            BenefitPaid.newBuilder()
                .setBenefitId("B-1")
                .setPeriod("2026-01")
                .setAmount("180000.00")
                .build());

    try (LedgerProducer producer = new LedgerProducer(cluster, "authority-feed", args[1])) {
      producer.publish(key.sign(person));
      producer.publish(key.sign(assigned));
      producer.publish(key.sign(paid));
    }
    System.out.println("published 3 signed records");
  }
}
