"""Identity's signing keys (ES256): generated on first start, encrypted at rest, rotated.

The newest active key signs; every key not yet past its retirement grace period is
published in the JWKS so tokens signed before a rotation keep verifying.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from sila_identity.tables import signing_keys

RETIRED_KEY_GRACE = timedelta(hours=2)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey


class KeyStore:
    def __init__(self, engine: AsyncEngine, passphrase: str, cache_seconds: float) -> None:
        self.engine = engine
        self.passphrase = passphrase.encode()
        self.cache_seconds = cache_seconds
        self._loaded_at = -1e9
        self._signing: SigningKey | None = None
        self._public: dict[str, Any] = {}
        self._jwks: list[dict[str, Any]] = []

    async def ensure_key(self) -> None:
        async with self.engine.begin() as conn:
            active = await conn.scalar(
                select(signing_keys.c.kid).where(signing_keys.c.retired_at.is_(None)).limit(1)
            )
            if active is None:
                await conn.execute(insert(signing_keys).values(**self._new_key_row()))
        self._loaded_at = -1e9

    async def rotate(self) -> str:
        """A new signing key; the previous ones retire but stay published for a grace period."""
        row = self._new_key_row()
        async with self.engine.begin() as conn:
            await conn.execute(
                update(signing_keys)
                .where(signing_keys.c.retired_at.is_(None))
                .values(retired_at=datetime.now(UTC))
            )
            await conn.execute(insert(signing_keys).values(**row))
        self._loaded_at = -1e9
        return str(row["kid"])

    def _new_key_row(self) -> dict[str, Any]:
        private_key = ec.generate_private_key(ec.SECP256R1())
        kid = uuid.uuid4().hex
        jwk = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
        jwk.update(kid=kid, use="sig", alg="ES256")
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self.passphrase),
        ).decode()
        return {
            "kid": kid,
            "private_pem": pem,
            "public_jwk": jwk,
            "created_at": datetime.now(UTC),
            "retired_at": None,
        }

    async def _refresh(self) -> None:
        if time.monotonic() - self._loaded_at < self.cache_seconds and self._signing is not None:
            return
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(select(signing_keys).order_by(signing_keys.c.created_at.desc()))
            ).all()
        now = datetime.now(UTC)
        public: dict[str, Any] = {}
        jwks: list[dict[str, Any]] = []
        signing: SigningKey | None = None
        for row in rows:
            retired = row.retired_at
            if retired is not None and now - retired > RETIRED_KEY_GRACE:
                continue
            jwk = row.public_jwk if isinstance(row.public_jwk, dict) else json.loads(row.public_jwk)
            jwks.append(jwk)
            public[row.kid] = ECAlgorithm.from_jwk(json.dumps(jwk))
            if signing is None and retired is None:
                private = serialization.load_pem_private_key(
                    row.private_pem.encode(), password=self.passphrase
                )
                assert isinstance(private, ec.EllipticCurvePrivateKey)
                signing = SigningKey(kid=row.kid, private_key=private)
        if signing is None:
            raise RuntimeError("no active signing key; identity did not start properly")
        self._signing, self._public, self._jwks = signing, public, jwks
        self._loaded_at = time.monotonic()

    async def signing_key(self) -> SigningKey:
        await self._refresh()
        assert self._signing is not None
        return self._signing

    async def public_keys(self) -> dict[str, Any]:
        await self._refresh()
        return self._public

    async def jwks(self) -> dict[str, Any]:
        await self._refresh()
        return {"keys": self._jwks}
