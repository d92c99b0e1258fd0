"""An authority's Ed25519 key (RFC 8032) signing privileged records as the
ledger verifies them (docs/authority.md), with the `cryptography` package."""
from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from si.ledger.v1 import events_pb2

from .records import _message_of, canonical


def _b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def key_id(public_key: bytes) -> str:
    """The RFC 7638 JWK thumbprint of a 32-byte Ed25519 public key
    (RFC 8037 §2): base64url of SHA-256 over
    {"crv":"Ed25519","kty":"OKP","x":"<public key, base64url>"}."""
    jwk = '{"crv":"Ed25519","kty":"OKP","x":"%s"}' % _b64url(public_key)
    return _b64url(hashlib.sha256(jwk.encode()).digest())


class RecordSigner:
    """Signs records over b"si-ledger/v1 Envelope\\n" followed by their
    canonical bytes without the signature."""

    def __init__(self, key: Ed25519PrivateKey):
        self._key = key
        self._public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = key_id(self._public)
        """The key id, as `si-ledger keygen` prints it."""

    @classmethod
    def from_pem(cls, pem: bytes | str) -> "RecordSigner":
        """A key in PKCS#8 PEM (-----BEGIN PRIVATE KEY-----, RFC 8410), as
        `si-ledger keygen` and `openssl genpkey -algorithm ed25519` write it.
        Raises ValueError when it holds no Ed25519 private key."""
        data = pem.encode() if isinstance(pem, str) else pem
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 private key")
        return cls(key)

    @classmethod
    def from_pem_file(cls, path: str | os.PathLike) -> "RecordSigner":
        """As from_pem, from a file."""
        with open(path, "rb") as f:
            pem = f.read()
        try:
            return cls.from_pem(pem)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{os.fspath(path)}: not an Ed25519 private key in PKCS#8 PEM "
                             f"(-----BEGIN PRIVATE KEY-----, as si-ledger keygen writes it): {e}"
                             ) from None

    @property
    def public_key(self) -> str:
        """The 32-byte public key, base64url without padding (the trust
        file's public_key)."""
        return _b64url(self._public)

    def sign(self, record: events_pb2.Envelope) -> events_pb2.Envelope:
        """The record, canonical, signed with this key; a signature it had is
        replaced. Raises InvalidRecord when the ledger would refuse it."""
        # The signature it had is replaced, not judged: cleared before the checks.
        unsigned = events_pb2.Envelope()
        unsigned.CopyFrom(record)
        unsigned.ClearField("signature")
        signed = canonical(unsigned)
        value = self._key.sign(_message_of(signed))
        signed.signature.key_id = self.key_id
        signed.signature.value = value
        return signed

    def __repr__(self) -> str:
        return f"RecordSigner({self.key_id})"
