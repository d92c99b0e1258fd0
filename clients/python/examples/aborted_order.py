"""An order that fails half-way: its first line is sent in the order's
transaction, then the bank's own system fails before the second; the
transaction is aborted and the ledger reads neither line.

Usage: aborted_order.py BOOTSTRAP TOPIC. Run by tests/tests/clients.rs.
"""
import sys

from si_ledger_client import LedgerProducer, PaymentOrder

lines = (
    PaymentOrder("bank-42", {"document_number": "PP-2", "received_on": "2026-01-11",
                             "ppc": "012", "payer_id": "150340000179"})
    .line("bank-42/PP-2/1", "900517400015", "2025-12", "99999.00",
          {"surname": "Ахметова", "name": "Айгерим", "birth_date": "1990-05-17"})
    .line("bank-42/PP-2/2", "851201003007", "2025-12", "11111.00",
          {"surname": "Серикбаев", "name": "Даурен", "birth_date": "1985-12-01"})
    .lines()
)
cluster = {"bootstrap.servers": sys.argv[1]}
with LedgerProducer(cluster, transactional_id="bank-42-aborted", topic=sys.argv[2]) as producer:
    try:
        with producer.order() as order:
            order.send(lines[0])
            producer.flush()  # the line is on the broker, in the open transaction
            raise RuntimeError("the bank's system failed half-way through the order")
    except RuntimeError as e:
        print(f"aborted: {e}")
