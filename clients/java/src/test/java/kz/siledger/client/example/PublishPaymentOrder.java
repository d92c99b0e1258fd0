package kz.siledger.client.example;

import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import kz.siledger.client.LedgerProducer;
import kz.siledger.client.PaymentOrder;
import si.ledger.v1.Common.PaymentDocument;
import si.ledger.v1.Common.PersonName;
import si.ledger.v1.Events.Envelope;

/**
 * A bank publishes one payment order (two contribution lines) to the ledger in one Kafka
 * transaction. Usage: {@code PublishPaymentOrder BOOTSTRAP TOPIC [CLIENT_PROPERTIES]}, the
 * optional file holding the cluster's own settings (TLS, SASL). The README's example; the
 * test suite runs it against Apache Kafka (tests/tests/clients.rs).
 */
public final class PublishPaymentOrder {
  private PublishPaymentOrder() {}

  public static void main(String[] args) throws Exception {
    Properties cluster = new Properties();
    if (args.length > 2) {
      try (Reader in = Files.newBufferedReader(Path.of(args[2]), StandardCharsets.UTF_8)) {
        cluster.load(in); // security.protocol, sasl.*, ssl.*
      }
    }
    cluster.put("bootstrap.servers", args[0]);

    PaymentDocument document =
        PaymentDocument.newBuilder()
            .setDocumentNumber("PP-1")
            .setDocumentDate("2026-01-09")
            .setReceivedOn("2026-01-10") // the day the money reached the State Corporation
            .setPpc("012") // social contributions
            .setPayerId("150340000179") // the employer's BIN
            .setPayerName("ТОО «Береке»")
            .build();
    List<Envelope> lines =
        new PaymentOrder("bank-42", document)
            .line("bank-42/PP-1/2026-01-09/1", "900517400015", "2025-12", "27050",
                PersonName.newBuilder().setSurname("Ахметова").setName("Айгерим")
                    .setBirthDate("1990-05-17").build())
            .line("bank-42/PP-1/2026-01-09/2", "851201003007", "2025-12", "27050.00",
                PersonName.newBuilder().setSurname("Серикбаев").setName("Даурен")
                    .setBirthDate("1985-12-01").build())
            .lines(); // each line was checked as added; the total 54100.00 and 2 lines filled in

    try (LedgerProducer producer = new LedgerProducer(cluster, "bank-42-orders", args[1])) {
      producer.publishOrder(lines); // one transaction: the ledger sees all lines or none
    }
    System.out.println("published " + lines.size() + " lines");
  }
}
