"""An authority publishes signed records: the register a person, the Fund a
benefit assigned and paid.

Usage: publish_signed_records.py BOOTSTRAP TOPIC KEY.pem

The key as `si-ledger keygen` writes it (in production the register and
the Fund each sign with their own). The README's example; the test suite
runs it against Apache Kafka.
"""
import sys

from si_ledger_client import LedgerProducer, RecordSigner, records

key = RecordSigner.from_pem_file(sys.argv[3])
print(f"signing with key {key.key_id}")

person = records.person(
    "register/900517400015/1", "900517400015", "register-gateway",
    surname="Ахметова", name="Айгерим", birth_date="1990-05-17", sex="F",
    effective_on="1990-05-17")
assigned = records.benefit_assigned(
    "fund/B-1/assigned", "900517400015", "fund",
    benefit_id="B-1", benefit_type="0704",  # maternity
    applied_on="2026-01-05", decided_on="2026-01-12",
    start_period="2026-01", end_period="2026-04", monthly_amount="180000")
paid = records.benefit_paid(
    "fund/B-1/2026-01", "900517400015", "fund",
    benefit_id="B-1", period="2026-01", amount="180000.00")

cluster = {"bootstrap.servers": sys.argv[1]}
with LedgerProducer(cluster, transactional_id="authority-feed", topic=sys.argv[2]) as producer:
    for record in (person, assigned, paid):
        producer.publish(key.sign(record))
print("published 3 signed records")
