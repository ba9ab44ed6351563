"""The verifier remembers verified tokens, but never past their expiry or their key."""

from __future__ import annotations

import time
from datetime import datetime, tzinfo
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from sila_common import auth
from sila_common.auth import TokenVerifier
from sila_common.problems import Unauthorized

ISSUER, AUDIENCE = "https://sila.test", "sila"


class Keys:
    """A key source whose keys the test retires."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.asked = 0

    async def key_for(self, kid: str) -> Any:
        self.asked += 1
        if kid not in self.keys:
            raise Unauthorized("The token was signed with an unknown key.")
        return self.keys[kid]


def token(private: ec.EllipticCurvePrivateKey, kid: str, expires_in: float) -> str:
    now = time.time()
    claims = {
        "sub": "agent-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(now),
        "exp": int(now + expires_in),
        "typ": "access",
        "kind": "agent",
        "roles": ["agent"],
    }
    return jwt.encode(claims, private, algorithm="ES256", headers={"kid": kid})


@pytest.fixture
def signing() -> tuple[Keys, ec.EllipticCurvePrivateKey]:
    private = ec.generate_private_key(ec.SECP256R1())
    keys = Keys()
    keys.keys["k1"] = private.public_key()
    return keys, private


async def test_a_remembered_token_answers_the_same_principal(
    signing: tuple[Keys, ec.EllipticCurvePrivateKey],
) -> None:
    keys, private = signing
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE)
    bearer = token(private, "k1", 600)
    first = await verifier.verify(bearer)
    again = await verifier.verify(bearer)
    assert first == again and first.subject == "agent-1" and first.has_role("agent")


async def test_a_remembered_token_is_refused_once_its_key_is_retired(
    signing: tuple[Keys, ec.EllipticCurvePrivateKey],
) -> None:
    keys, private = signing
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE)
    bearer = token(private, "k1", 600)
    await verifier.verify(bearer)
    del keys.keys["k1"]
    with pytest.raises(Unauthorized):
        await verifier.verify(bearer)


async def test_a_remembered_token_is_refused_once_it_expired(
    signing: tuple[Keys, ec.EllipticCurvePrivateKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys, private = signing
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE)
    bearer = token(private, "k1", 60)
    await verifier.verify(bearer)
    # An hour later, for the verifier's memory and for the signature check alike.
    later = time.time() + 3600

    class Later(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Later:
            return cls.fromtimestamp(later, tz)

    monkeypatch.setattr(auth, "time", SimpleNamespace(time=lambda: later))
    monkeypatch.setattr(jwt.api_jwt, "datetime", Later)
    with pytest.raises(Unauthorized, match="expired"):
        await verifier.verify(bearer)


async def test_a_tampered_token_is_not_taken_for_a_remembered_one(
    signing: tuple[Keys, ec.EllipticCurvePrivateKey],
) -> None:
    keys, private = signing
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE)
    bearer = token(private, "k1", 600)
    await verifier.verify(bearer)
    header, payload, signature = bearer.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    with pytest.raises(Unauthorized):
        await verifier.verify(forged)
