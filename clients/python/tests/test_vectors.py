"""Every shared vector (proto/testdata/vectors.json) is decided here as the
ledger decides it: the same canonical bytes, signature and record, or a
refusal of the same field."""
import json

import pytest
from google.protobuf.message import DecodeError

from si.ledger.v1 import events_pb2
from si_ledger_client import DOMAIN_PREFIX, InvalidRecord, RecordSigner, canonical, parse, signed_message
from conftest import TESTDATA

CASES = json.loads((TESTDATA / "vectors.json").read_text(encoding="utf-8"))["cases"]


def test_there_are_vectors():
    assert len(CASES) > 50


def test_the_key_id_and_public_key_are_the_ledgers(vectors):
    signing = vectors["signing"]
    signer = RecordSigner.from_pem(signing["pkcs8_pem"])
    assert signer.key_id == signing["key_id"]
    assert signer.public_key == signing["public_key"]
    # RFC 8037 Appendix A.3: the thumbprint of RFC 8032's first test key.
    assert signer.key_id == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert DOMAIN_PREFIX.decode() == signing["domain_prefix"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_each_case_is_decided_as_the_ledger_decides_it(case, vectors):
    signer = RecordSigner.from_pem(vectors["signing"]["pkcs8_pem"])
    if "undecodable" in case:
        with pytest.raises(DecodeError):
            parse(bytes.fromhex(case["input_hex"]))
        return
    record = parse(bytes.fromhex(case["input_hex"]))
    if "refusal" in case:
        with pytest.raises(InvalidRecord) as refused:
            canonical(record)
        assert refused.value.field == case["refusal"]["field"], str(refused.value)
        assert refused.value.reason
        if refused.value.field.startswith("signature"):
            # Signing replaces a signature without judging it.
            assert signer.sign(record).signature.key_id == signer.key_id
        else:
            with pytest.raises(InvalidRecord):
                signer.sign(record)
        return
    mine = canonical(record)
    mine.ClearField("signature")
    assert mine.SerializeToString(deterministic=True).hex() == case["canonical_hex"]
    assert signed_message(record) == DOMAIN_PREFIX + bytes.fromhex(case["canonical_hex"])
    signed = signer.sign(record)
    assert signed.signature.value.hex() == case["signature_hex"]
    assert signed.SerializeToString(deterministic=True).hex() == case["record_hex"]
    # Canonical is a fixed point: the record as sent is its own canonical form.
    assert canonical(signed) == signed
    # The input is not changed.
    assert record.SerializeToString().hex() == case["input_hex"] or "unknown" in case["name"]
