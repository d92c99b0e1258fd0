"""Decides records read from standard input, one hex-encoded record value a
line, and prints for each `ok CANONICAL_HEX` (the canonical bytes without
the signature) or `refused FIELD`: the differential test
(tests/tests/clients.rs) compares these with the ledger's own decisions on
random records."""
import sys

from si.ledger.v1 import events_pb2
from si_ledger_client import InvalidRecord, canonical

for line in sys.stdin:
    record = events_pb2.Envelope.FromString(bytes.fromhex(line.strip()))
    try:
        c = canonical(record)
        c.ClearField("signature")
        print("ok " + c.SerializeToString(deterministic=True).hex())
    except InvalidRecord as e:
        print("refused " + e.field)
