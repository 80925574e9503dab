"""Ed25519 ticket signatures, with private keys encrypted at rest.

The encryption key is derived from ``SECRET_KEY`` with HKDF-SHA256 (its own ``info`` so it
is independent of every other use of the secret), and each private key is sealed with
AES-256-GCM under a random nonce, the organization and key number bound in as associated
data: a sealed key copied to another organization's row does not open. Changing
SECRET_KEY makes stored keys unusable for signing; rotate keys after doing so.
"""

from __future__ import annotations

import base64
import os
import threading

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"bookpulse ticket signing keys v1"
_SEAL_VERSION = "v1"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class KeyUnavailable(RuntimeError):
    """A stored private key does not open with this SECRET_KEY (it changed, or the row
    was tampered with)."""


class Ed25519TicketCrypto:
    """Generates, seals, signs and verifies. Opened private keys and parsed public keys
    are cached by (org, kid, sealed text) so a busy door does not pay for AES and key
    parsing on every scan."""

    def __init__(self, secret_key: str) -> None:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
        self._aead = AESGCM(hkdf.derive(secret_key.encode("utf-8")))
        self._private: dict[tuple[int, int, str], Ed25519PrivateKey] = {}
        self._public: dict[str, Ed25519PublicKey] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _aad(org_id: int, kid: int) -> bytes:
        return f"ticket-key:{org_id}:{kid}".encode()

    def generate(self, *, org_id: int, kid: int) -> tuple[str, str]:
        """(public key, sealed private key), both as text for storage."""
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes(serialization.Encoding.Raw,
                                    serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
        public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw)
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, raw, self._aad(org_id, kid))
        return b64u(public), f"{_SEAL_VERSION}.{b64u(nonce)}.{b64u(sealed)}"

    def _open(self, org_id: int, kid: int, sealed: str) -> Ed25519PrivateKey:
        cache_key = (org_id, kid, sealed)
        found = self._private.get(cache_key)
        if found is not None:
            return found
        try:
            version, nonce, body = sealed.split(".")
            if version != _SEAL_VERSION:
                raise ValueError(version)
            raw = self._aead.decrypt(unb64u(nonce), unb64u(body), self._aad(org_id, kid))
        except (ValueError, InvalidTag) as exc:
            raise KeyUnavailable(f"ticket key {org_id}/{kid} does not open") from exc
        key = Ed25519PrivateKey.from_private_bytes(raw)
        with self._lock:
            self._private[cache_key] = key
        return key

    def sign(self, *, org_id: int, kid: int, sealed: str, payload: bytes) -> bytes:
        return self._open(org_id, kid, sealed).sign(payload)

    def verify(self, *, public_key: str, payload: bytes, signature: bytes) -> bool:
        key = self._public.get(public_key)
        if key is None:
            try:
                key = Ed25519PublicKey.from_public_bytes(unb64u(public_key))
            except ValueError:
                return False
            with self._lock:
                self._public[public_key] = key
        try:
            key.verify(signature, payload)
        except InvalidSignature:
            return False
        return True


_BY_SECRET: dict[str, Ed25519TicketCrypto] = {}


def crypto_for(secret_key: str) -> Ed25519TicketCrypto:
    """One instance per secret (its caches are worth sharing between requests)."""
    found = _BY_SECRET.get(secret_key)
    if found is None:
        found = _BY_SECRET[secret_key] = Ed25519TicketCrypto(secret_key)
    return found
