"""Decides records read from standard input, one hex-encoded record value a
line, and prints for each `ok CANONICAL_HEX` (the canonical bytes without
the signature), `refused FIELD` or `undecodable`: the differential test
(tests/tests/clients.rs) compares these with the ledger's own decisions on
random records."""
import sys

from google.protobuf.message import DecodeError

from si_ledger_client import InvalidRecord, canonical, records

for line in sys.stdin:
    try:
        record = records.parse(bytes.fromhex(line.strip()))
    except DecodeError:
        print("undecodable")
        continue
    try:
        c = canonical(record)
        c.ClearField("signature")
        print("ok " + c.SerializeToString(deterministic=True).hex())
    except InvalidRecord as e:
        print("refused " + e.field)
