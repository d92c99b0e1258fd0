"""A bank publishes one payment order (two contribution lines) to the
ledger in one Kafka transaction.

Usage: publish_payment_order.py BOOTSTRAP TOPIC [CLIENT_PROPERTIES]

The optional file holds the cluster's own librdkafka settings (TLS, SASL),
one key=value per line. The README's example; the test suite runs it
against Apache Kafka (tests/tests/clients.rs).
"""
import sys

from si_ledger_client import LedgerProducer, PaymentOrder

cluster = {"bootstrap.servers": sys.argv[1]}
if len(sys.argv) > 3:
    with open(sys.argv[3], encoding="utf-8") as f:  # security.protocol, sasl.*, ssl.*
        for line in f:
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                cluster[key.strip()] = value.strip()

document = {
    "document_number": "PP-1",
    "document_date": "2026-01-09",
    "received_on": "2026-01-10",  # the day the money reached the State Corporation
    "ppc": "012",  # social contributions
    "payer_id": "150340000179",  # the employer's BIN
    "payer_name": "ТОО «Береке»",
}
lines = (
    PaymentOrder("bank-42", document)
    .line("bank-42/PP-1/2026-01-09/1", "900517400015", "2025-12", "27050",
          {"surname": "Ахметова", "name": "Айгерим", "birth_date": "1990-05-17"})
    .line("bank-42/PP-1/2026-01-09/2", "851201003007", "2025-12", "27050.00",
          {"surname": "Серикбаев", "name": "Даурен", "birth_date": "1985-12-01"})
    .lines()  # each line was checked as added; the total 54100.00 and 2 lines filled in
)

with LedgerProducer(cluster, transactional_id="bank-42-orders", topic=sys.argv[2]) as producer:
    producer.publish_order(lines)  # one transaction: the ledger sees all lines or none
print(f"published {len(lines)} lines")
