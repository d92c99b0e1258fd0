package kz.siledger.client.example;

import java.util.Properties;
import kz.siledger.client.LedgerProducer;
import kz.siledger.client.PaymentOrder;
import si.ledger.v1.Common.PaymentDocument;
import si.ledger.v1.Common.PersonName;

/**
 * An order that fails half-way: its first line is sent in the order's transaction, then the
 * bank's own system fails before the second; the transaction is aborted and the ledger reads
 * neither line. Usage: {@code AbortedOrder BOOTSTRAP TOPIC}. Run by tests/tests/clients.rs.
 */
public final class AbortedOrder {
  private AbortedOrder() {}

  public static void main(String[] args) {
    Properties cluster = new Properties();
    cluster.put("bootstrap.servers", args[0]);
    var lines =
        new PaymentOrder("bank-42",
                PaymentDocument.newBuilder().setDocumentNumber("PP-2").setReceivedOn("2026-01-11")
                    .setPpc("012").setPayerId("150340000179").build())
            .line("bank-42/PP-2/1", "900517400015", "2025-12", "99999.00",
                PersonName.newBuilder().setSurname("Ахметова").setName("Айгерим")
                    .setBirthDate("1990-05-17").build())
            .line("bank-42/PP-2/2", "851201003007", "2025-12", "11111.00",
                PersonName.newBuilder().setSurname("Серикбаев").setName("Даурен")
                    .setBirthDate("1985-12-01").build())
            .lines();
    try (LedgerProducer producer = new LedgerProducer(cluster, "bank-42-aborted", args[1])) {
      try (LedgerProducer.Order order = producer.beginOrder()) {
        order.send(lines.get(0));
        producer.flush(); // the line is on the broker, in the open transaction
        throw new IllegalStateException("the bank's system failed half-way through the order");
      } catch (IllegalStateException e) {
        System.out.println("aborted: " + e.getMessage());
      }
    }
  }
}
