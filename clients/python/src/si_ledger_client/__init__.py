"""The si-ledger's Python client for payment processors and authorities:
records built, checked and spelled as the ledger does (`records`), signed
(`RecordSigner`), and published with the producer settings the ledger
depends on (`LedgerProducer`). See clients/python/README.md."""
from ._rules import InvalidRecord
from .producer import LedgerProducer, settings
from .records import DOMAIN_PREFIX, PaymentOrder, canonical, is_privileged, kind, parse, signed_message
from .signing import RecordSigner, key_id

__all__ = [
    "DOMAIN_PREFIX",
    "InvalidRecord",
    "LedgerProducer",
    "PaymentOrder",
    "RecordSigner",
    "canonical",
    "is_privileged",
    "key_id",
    "kind",
    "settings",
    "parse",
    "signed_message",
]
