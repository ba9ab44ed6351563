"""One-time codes at rest: what a message row may show, and the sealed text only the
dispatcher opens.

A one-time code is a password: anyone who reads it logs in as the customer. So a code's
message row never holds it in clear. Its ``body`` shows the text with the code masked (what
``GET /v1/notifications`` returns, to anyone), and ``sealed_body`` holds the real text
encrypted with AES-256-GCM under ``SILA_NOTIFY_OTP_SEALING_KEY``; the dispatcher opens it
just before handing the SMS to the SMS centre, and it is dropped once the message is sent
or failed. Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sila_common.otp_transport import CodeUnreadable, TransportKeyring

# The data members of a one-time-code event that are secrets.
SECRET_MEMBERS: Final = ("code",)
# What a one-time-code event carries instead: the code sealed for notify by identity.
SEALED_MEMBERS: Final = ("sealed_code", "key_id")
# The events whose code arrives sealed (sila_common.otp_transport).
SEALED_CODE_EVENTS: Final = frozenset({"identity.otp.requested"})
MASK: Final = "••••••"
_VERSION: Final = "v1"
# Binds a sealed text to its purpose: a sealed body cannot be replayed as anything else.
_CONTEXT: Final = b"sila-notify-otp-body"


class SealError(ValueError):
    """A sealed text that cannot be opened (another key, or tampered with)."""


def secrets_of(data: Mapping[str, Any]) -> list[str]:
    """The secret values an event carries (non-empty strings only)."""
    return [str(data[m]) for m in SECRET_MEMBERS if isinstance(data.get(m), str | int) and data[m]]


def masked(text: str | None, secrets: Iterable[str]) -> str | None:
    """``text`` with every secret value replaced by the mask."""
    if text is None:
        return None
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


class Sealer:
    """AES-256-GCM with a key derived from the configured secret (any length)."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the sealing key is empty")
        self._aead = AESGCM(hashlib.sha256(secret.encode()).digest())

    def seal(self, text: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, text.encode(), _CONTEXT)
        return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, token: str) -> str:
        version, _, payload = token.partition(".")
        if version != _VERSION:
            raise SealError("not a sealed text")
        try:
            raw = base64.urlsafe_b64decode(payload.encode())
            return self._aead.decrypt(raw[:12], raw[12:], _CONTEXT).decode()
        except (InvalidTag, ValueError) as error:
            raise SealError("sealed with another key, or altered") from error


def with_opened_code(data: Mapping[str, Any], keys: TransportKeyring) -> dict[str, Any]:
    """The event's data with ``code`` opened from ``sealed_code`` (in memory only: the row
    seals its text again), or ``CodeUnreadable``. A code in clear (an event older than the
    sealing, or forged) is never used: only what identity sealed is sent."""
    opened = {k: v for k, v in data.items() if k not in (*SECRET_MEMBERS, *SEALED_MEMBERS)}
    sealed, key_id = data.get("sealed_code"), data.get("key_id")
    if not isinstance(sealed, str) or not isinstance(key_id, str) or not sealed:
        raise CodeUnreadable("the event carries no sealed code")
    opened["code"] = keys.open(
        sealed,
        key_id=key_id,
        customer_id=str(data.get("customer_id") or ""),
        phone=str(data.get("phone") or ""),
    )
    return opened
