"""Signing and verifying partner webhooks the Standard Webhooks way (standardwebhooks.com).

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`, signed with HMAC-SHA256 under
a `whsec_`-prefixed base64 secret; the `webhook-signature` header carries `v1,<base64>` entries
separated by spaces, one per current secret, so that a partner can rotate secrets without a gap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as random_source
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the marker, not a secret
SIGNATURE_VERSION: Final = "v1"
DEFAULT_TOLERANCE: Final = timedelta(minutes=5)
# The specification asks for 24 to 64 random bytes.
SECRET_BYTES: Final = 32

HEADER_ID: Final = "webhook-id"
HEADER_TIMESTAMP: Final = "webhook-timestamp"
HEADER_SIGNATURE: Final = "webhook-signature"


class WebhookVerificationError(Exception):
    """The request was not signed by a holder of the secret, or not recently enough."""


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(random_source.token_bytes(SECRET_BYTES)).decode()


def _secret_key(secret: str) -> bytes:
    # The official libraries also take the bare base64 part, so we do too.
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error as error:
        raise ValueError("a webhook secret is whsec_ followed by base64") from error
    if not key:
        raise ValueError("a webhook secret cannot be empty")
    return key


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed_content = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed_content, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature, `v1,<base64 HMAC-SHA256>`."""
    digest = _digest(_secret_key(secret), msg_id, timestamp, body)
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signature_header(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: a signature per current secret, space-separated."""
    signatures = [sign(secret, msg_id, timestamp, body) for secret in secrets]
    if not signatures:
        raise ValueError("at least one secret is needed to sign a webhook")
    return " ".join(signatures)


def webhook_headers(
    secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three headers a webhook request carries."""
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: signature_header(secrets, msg_id, timestamp, body),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"missing {name} header")


def verify(
    secrets_or_secret: str | Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """Return if one `v1` signature matches one of the secrets; raise WebhookVerificationError.

    The timestamp must lie within `tolerance` of `now` either way: an old one is a replay, one
    from the future a forgery that would otherwise stay replayable for longer.
    """
    secrets = [secrets_or_secret] if isinstance(secrets_or_secret, str) else [*secrets_or_secret]
    if not secrets:
        raise ValueError("at least one secret is needed to verify a webhook")
    msg_id = _header(headers, HEADER_ID)
    raw_timestamp = _header(headers, HEADER_TIMESTAMP)
    signature_value = _header(headers, HEADER_SIGNATURE)

    try:
        timestamp = int(raw_timestamp)
    except ValueError as error:
        raise WebhookVerificationError("webhook-timestamp is not a Unix time") from error
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    age = now.timestamp() - timestamp
    if age > tolerance.total_seconds():
        raise WebhookVerificationError("webhook-timestamp is too old")
    if -age > tolerance.total_seconds():
        raise WebhookVerificationError("webhook-timestamp is too far in the future")

    expected = [_digest(_secret_key(secret), msg_id, timestamp, body) for secret in secrets]
    for entry in signature_value.split(" "):
        version, _, encoded = entry.partition(",")
        if version != SIGNATURE_VERSION:
            # Other schemes (v1a is the asymmetric one) are not ours to check.
            continue
        try:
            received = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
        # Every comparison runs, so the time taken says nothing about which secret matched.
        matches = [hmac.compare_digest(received, digest) for digest in expected]
        if any(matches):
            return
    raise WebhookVerificationError("no matching signature")
