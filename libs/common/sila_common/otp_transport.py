"""One-time codes in transit: identity seals the code for notify alone.

A one-time code is the customer's password for five minutes. It crosses the broker from
identity to notify in ``identity.otp.requested``, and that event also sits in identity's
outbox (for the retention window), on the topic, on ``<topic>.dlq`` when a consumer gives
up, and in any dump of the broker. So the event never carries the code in clear: identity
seals it with AES-256-GCM under a key only identity and notify hold
(``SILA_OTP_TRANSPORT_KEY``), and notify opens it when it plans the SMS (then seals the
text again under its own key until the dispatcher sends it: ``sila_notify.domain.sealing``).

The sealed code is bound (GCM's associated data) to the customer and the phone number the
event names: a sealed code moved into another event, to another number, does not open.
The key id (a hash of the key, never the key) travels beside it, so a rotation is: give
notify the new key and keep the old one in ``SILA_OTP_TRANSPORT_PREVIOUS_KEYS``; then give
identity the new key; after a few minutes (codes live five) drop the old one.

Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_ENV: Final = "SILA_OTP_TRANSPORT_KEY"
PREVIOUS_KEYS_ENV: Final = "SILA_OTP_TRANSPORT_PREVIOUS_KEYS"
DEV_KEY: Final = "dev-only-otp-transport-key"
# Values anyone can read (this code, docker-compose.yml's default, the placeholders of
# .env.example and deploy/k8s/secrets.example.yaml): identity and notify refuse them in prod.
PUBLIC_KEYS: Final = frozenset(
    {DEV_KEY, "compose-public-otp-transport-key", "change-me-four", "REPLACE_ME"}
)
MIN_KEY_LENGTH: Final = 16
_VERSION: Final = "v1"
_NONCE: Final = 12


class CodeUnreadable(ValueError):
    """A sealed code that does not open: unknown key id, another binding, or altered.

    Its message never holds the code (there is none to hold) nor the sealed text."""


@dataclass(frozen=True)
class TransportKey:
    """A transport key derived (HKDF-SHA256) from the configured secret, and its id."""

    key_id: str
    _aead: AESGCM

    @classmethod
    def from_secret(cls, secret: str) -> TransportKey:
        if not secret:
            raise ValueError("the OTP transport key is empty")
        raw = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"sila otp transport v1"
        ).derive(secret.encode())
        key_id = hashlib.sha256(b"sila otp transport key id|" + raw).hexdigest()[:16]
        return cls(key_id, AESGCM(raw))

    def seal(self, code: str, *, customer_id: str, phone: str) -> str:
        """The event's ``sealed_code`` (its ``key_id`` is this key's)."""
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, code.encode(), _binding(self.key_id, customer_id, phone))
        return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, raw: bytes, *, customer_id: str, phone: str) -> bytes:
        return self._aead.decrypt(
            raw[:_NONCE], raw[_NONCE:], _binding(self.key_id, customer_id, phone)
        )


def _binding(key_id: str, customer_id: str, phone: str) -> bytes:
    return f"sila-otp-transport|{_VERSION}|{key_id}|{customer_id}|{phone}".encode()


class TransportKeyring:
    """The keys notify opens codes with: the current one and those still in transit."""

    def __init__(self, secrets: Iterable[str]) -> None:
        keys = [TransportKey.from_secret(s) for s in secrets if s]
        if not keys:
            raise ValueError("no OTP transport key")
        self.current = keys[0]
        self._by_id = {k.key_id: k for k in keys}

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._by_id)

    def open(self, sealed_code: str, *, key_id: str, customer_id: str, phone: str) -> str:
        """The code, or ``CodeUnreadable`` saying why (never with the sealed text)."""
        key = self._by_id.get(key_id)
        if key is None:
            raise CodeUnreadable(f"sealed with key {key_id[:32]!r}, which this service lacks")
        version, _, payload = sealed_code.partition(".")
        if version != _VERSION:
            raise CodeUnreadable("not a sealed code")
        try:
            raw = base64.urlsafe_b64decode(payload.encode())
            if len(raw) <= _NONCE + 16:
                raise CodeUnreadable("sealed code too short")
            code = key.open(raw, customer_id=customer_id, phone=phone).decode()
        except (InvalidTag, ValueError) as error:
            if isinstance(error, CodeUnreadable):
                raise
            raise CodeUnreadable(
                "sealed code altered, or sealed for another customer or number"
            ) from None
        if not (code.isascii() and code.isdigit()):
            raise CodeUnreadable("sealed text is not a code")
        return code


def parse_previous_keys(value: str) -> list[str]:
    """``SILA_OTP_TRANSPORT_PREVIOUS_KEYS``: comma-separated, blanks ignored."""
    return [part.strip() for part in value.split(",") if part.strip()]


def is_public(secret: str) -> bool:
    """A value anyone can read, or too short to be a key: refused in production."""
    return secret in PUBLIC_KEYS or len(secret) < MIN_KEY_LENGTH
