"""Access tokens Sila issues: short-lived ES256 JWTs that every service verifies itself."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from sila_common.settings import PlatformSettings
from sila_identity.auth.keys import KeyStore


async def issue_access_token(
    keys: KeyStore,
    platform: PlatformSettings,
    *,
    subject: str,
    kind: str,
    ttl_seconds: int,
    roles: list[str] | None = None,
    scope: str = "",
    extra: dict[str, Any] | None = None,
) -> str:
    key = await keys.signing_key()
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": platform.jwt_issuer,
        "aud": platform.jwt_audience,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=ttl_seconds),
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "kind": kind,
        "roles": roles or [],
        "scope": scope,
    }
    claims.update(extra or {})
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
