"""A producer in Python signing privileged records for the si-ledger, with
the standard libraries only a register or Fund gateway would use: protobuf
(classes generated from proto/ by grpcio-tools' protoc) and `cryptography`
(Ed25519, RFC 8032). docs/kafka.md, "Signing privileged records", shows the
same steps.

Usage: sign_envelope.py PROTO_DIR KEY.pem OUT.jsonl IIN

Writes two JSON lines for IIN: a register record (PersonRegistered) and a
change to it (PersonDataChanged), each signed with the key, in the proto3
JSON mapping `si-ledger publish` reads. Prints the key id it signed with.
"""
import base64
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import serialization
from google.protobuf import json_format

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import si_proto  # noqa: E402

proto_dir, key_path, out_path, iin = sys.argv[1:5]

# Compile the contract as any Python producer would (once, at build time).
events_pb2 = si_proto.load(proto_dir)

with open(key_path, "rb") as f:
    key = serialization.load_pem_private_key(f.read(), password=None)
raw = key.public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw
)


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# RFC 7638 JWK thumbprint of the public key (RFC 8037 §2): the key id.
jwk = '{"crv":"Ed25519","kty":"OKP","x":"%s"}' % b64url(raw)
key_id = b64url(hashlib.sha256(jwk.encode()).digest())


def signed(envelope) -> dict:
    # The bytes signed: the prefix, then the envelope without `signature`,
    # every value in its canonical spelling (two-decimal amounts, NFC
    # texts): serialized in field-number order, as protobuf does.
    envelope.ClearField("signature")
    message = b"si-ledger/v1 Envelope\n" + envelope.SerializeToString(deterministic=True)
    envelope.signature.key_id = key_id
    envelope.signature.value = key.sign(message)
    return json_format.MessageToDict(envelope)


person = events_pb2.Envelope(event_id="py-reg-1", iin=iin, source="register-gateway")
person.person.surname = "Ахметова"
person.person.name = "Айгерим"
person.person.birth_date = "1990-05-17"
person.person.sex = "F"
person.person.citizenship = "KZ"
person.person.effective_on = "1990-05-17"
change = events_pb2.Envelope(event_id="py-reg-2", iin=iin, source="register-gateway")
change.person_changed.surname = "Серикова"
change.person_changed.name = "Айгерим"
change.person_changed.birth_date = "1990-05-17"
change.person_changed.sex = "F"
change.person_changed.effective_on = "2025-01-10"

with open(out_path, "w", encoding="utf-8") as out:
    for e in (person, change):
        out.write(json.dumps(signed(e), ensure_ascii=False) + "\n")
print(key_id)
