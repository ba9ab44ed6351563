"""Bearer-token verification every service does itself, against identity's JWKS.

The key set is cached and fetched again when a token names a key id we do not know
(key rotation), at most once per ``refetch_interval``. Role and scope checks are
FastAPI dependencies.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

import httpx
import jwt
from fastapi import Depends, Request
from jwt import PyJWK

from sila_common.problems import Forbidden, Unauthorized

PrincipalKind = Literal["agent", "customer", "partner", "service"]
ALGORITHMS = ["ES256"]


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the token says."""

    subject: str
    kind: PrincipalKind
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    customer_id: str | None = None
    # For agents: the wilaya codes they serve; "*" means every wilaya.
    wilayas: frozenset[str] = frozenset()
    agency: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles)) or "admin" in self.roles

    def serves_wilaya(self, code: str | None) -> bool:
        return "*" in self.wilayas or (code is not None and code in self.wilayas)

    def may_read_customer(self, customer_id: str, wilaya: str | None = None) -> bool:
        if self.kind == "customer":
            return self.customer_id == customer_id
        if self.kind == "agent":
            return self.serves_wilaya(wilaya)
        if self.kind == "service":
            return True
        return "customers:read" in self.scopes


class KeySource(Protocol):
    async def key_for(self, kid: str) -> Any: ...


class JwksKeySource:
    """Identity's public keys over HTTP, cached, re-fetched on an unknown key id."""

    def __init__(
        self, url: str, client: httpx.AsyncClient | None = None, refetch_interval: float = 10.0
    ) -> None:
        self.url = url
        self.client = client
        self.refetch_interval = refetch_interval
        self._keys: dict[str, Any] = {}
        self._fetched_at = -1e9
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> Any:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if (
                kid not in self._keys
                and time.monotonic() - self._fetched_at > self.refetch_interval
            ):
                await self._fetch()
        if kid not in self._keys:
            raise Unauthorized("The token was signed with an unknown key.")
        return self._keys[kid]

    async def _fetch(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            if self.client is not None:
                response = await self.client.get(self.url, timeout=5)
            else:
                async with httpx.AsyncClient() as client:
                    response = await client.get(self.url, timeout=5)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unauthorized("The signing keys cannot be fetched right now.") from exc
        self._keys = {
            jwk["kid"]: PyJWK.from_dict(jwk).key for jwk in document.get("keys", []) if "kid" in jwk
        }


class LocalKeySource:
    """Keys held in process (identity verifies its own tokens without a network hop)."""

    def __init__(self, loader: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self.loader = loader

    async def key_for(self, kid: str) -> Any:
        keys = await self.loader()
        if kid not in keys:
            raise Unauthorized("The token was signed with an unknown key.")
        return keys[kid]


class TokenVerifier:
    """Verifies access tokens; remembers the tokens it verified (at most VERIFIED_CACHE of
    them, each until its expiry), so an agent's next request skips the signature check
    (ES256: most of the cost of authentication, docs/benchmarks.md). A remembered token is
    the same string, so the same signature; its key is still asked of the key source on
    every request, so retiring a key refuses its tokens as before."""

    VERIFIED_CACHE = 4096
    LEEWAY_SECONDS = 5

    def __init__(self, keys: KeySource, *, issuer: str, audience: str) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self._verified: OrderedDict[str, tuple[str, float, Principal]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None:
            known_kid, expires_at, principal = remembered
            if time.time() <= expires_at + self.LEEWAY_SECONDS:
                await self.keys.key_for(known_kid)  # raises once the key is retired
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("The bearer token is malformed.") from exc
        kid = header.get("kid")
        if not kid or header.get("alg") not in ALGORITHMS:
            raise Unauthorized("The bearer token is not signed the way Sila signs tokens.")
        key = await self.keys.key_for(str(kid))
        principal = self._decode(token, key)
        self._verified[token] = (str(kid), float(principal.claims["exp"]), principal)
        if len(self._verified) > self.VERIFIED_CACHE:
            self._verified.popitem(last=False)
        return principal

    def _decode(self, token: str, key: Any) -> Principal:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=self.LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The bearer token has expired.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("The bearer token is invalid.") from exc
        if claims.get("typ") != "access":
            raise Unauthorized("Only access tokens open the API.")
        return principal_from_claims(claims)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    return Principal(
        subject=str(claims["sub"]),
        kind=claims.get("kind", "customer"),
        roles=frozenset(claims.get("roles", [])),
        scopes=frozenset(str(claims.get("scope", "")).split()),
        customer_id=claims.get("customer_id"),
        wilayas=frozenset(claims.get("wilayas", [])),
        agency=claims.get("agency"),
        claims=claims,
    )


async def current_principal(request: Request) -> Principal:
    """The authenticated caller; 401 without a valid bearer token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("A bearer token is required.")
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(token.strip())
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """An agent holding one of ``roles`` (admin holds them all)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.kind != "agent" or not principal.has_role(*roles):
            raise Forbidden(f"This needs one of the roles: {', '.join(roles)}.")
        return principal

    return dependency


def require_scope(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A partner (or service) token carrying ``scope``."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if scope not in principal.scopes:
            raise Forbidden(f"This needs the scope {scope}.")
        return principal

    return dependency
