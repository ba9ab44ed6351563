"""Bearer-token verification every service does itself, against identity's JWKS.

The key set is cached and fetched again when a token names a key id we do not know
(key rotation), at most once per ``refetch_interval``, and whenever it is older than
``max_age``: a key identity no longer publishes (retired after a rotation, or withdrawn
because it leaked) stops verifying within ``max_age``. When identity cannot be reached,
the cached set is used up to twice ``max_age``, then every token is refused (fail closed).
Role and scope checks are FastAPI dependencies built on the one role vocabulary
(``sila_common.roles``): ``require_roles`` for agents, ``require_scope`` for partners
(the only scope check).
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
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from jwt import PyJWK

from sila_common.problems import Forbidden, Unauthorized
from sila_common.roles import ADMIN, CUSTOMER_CARE, expand

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
        """One of ``roles`` (or of the roles of an alias such as ``customer_care``); admin
        holds every role."""
        return bool(self.roles.intersection(expand(*roles))) or ADMIN in self.roles

    @property
    def is_admin(self) -> bool:
        return self.kind == "agent" and ADMIN in self.roles

    def is_agent_with(self, *roles: str) -> bool:
        return self.kind == "agent" and self.has_role(*roles)

    def has_scope(self, scope: str) -> bool:
        """A partner's (or service's) token carrying ``scope``; agents and customers have none."""
        return self.kind in ("partner", "service") and scope in self.scopes

    def serves_wilaya(self, code: str | None) -> bool:
        return "*" in self.wilayas or (code is not None and code in self.wilayas)

    def may_read_customer(self, customer_id: str, wilaya: str | None = None) -> bool:
        if self.kind == "customer":
            return self.customer_id == customer_id
        if self.kind == "agent":
            # Marketing works on segments, not on one customer's records.
            return self.has_role(*CUSTOMER_CARE) and self.serves_wilaya(wilaya)
        if self.kind == "service":
            return True
        return self.has_scope("customers:read")


class KeySource(Protocol):
    async def key_for(self, kid: str) -> Any: ...


class JwksKeySource:
    """Identity's public keys over HTTP, cached, re-fetched on an unknown key id."""

    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient | None = None,
        refetch_interval: float = 10.0,
        max_age: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.client = client
        self.clock = clock
        self.refetch_interval = refetch_interval
        self.max_age = max_age
        self._keys: dict[str, Any] = {}
        self._fetched_at = -1e9
        # When the keys held were last fetched successfully.
        self._loaded_at = -1e9
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> Any:
        if self.clock() - self._loaded_at > self.max_age:
            await self._refresh_expired()
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid not in self._keys and self.clock() - self._fetched_at > self.refetch_interval:
                await self._fetch()
        if kid not in self._keys:
            raise Unauthorized("The token was signed with an unknown key.")
        return self._keys[kid]

    async def _refresh_expired(self) -> None:
        async with self._lock:
            age = self.clock() - self._loaded_at
            if age <= self.max_age or self.clock() - self._fetched_at <= self.refetch_interval:
                if age > 2 * self.max_age:
                    self._keys = {}
                return
            try:
                await self._fetch()
            except Unauthorized:
                if age > 2 * self.max_age:
                    self._keys = {}  # too old to trust any longer: fail closed
                    raise

    async def _fetch(self) -> None:
        self._fetched_at = self.clock()
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
        self._loaded_at = self.clock()


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


class BearerPrincipal(SecurityBase):
    """The authenticated caller, as one dependency; 401 without a valid bearer token.

    Being a ``SecurityBase``, it documents the bearer scheme in every service's OpenAPI
    (components.securitySchemes and each authenticated operation's ``security``), so the API
    pages can send a token, without ``HTTPBearer`` as a dependency of its own: FastAPI
    solves each dependency at a cost per request (docs/benchmarks.md, "identity's request
    path"). A service adds its own checks of the caller by subclassing (identity's active
    agents), still one dependency."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(
            bearerFormat="JWT",
            description="An access token from identity's POST /v1/oauth/token (ES256 JWT).",
        )
        self.scheme_name = "bearer"

    async def __call__(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("A bearer token is required.")
        verifier: TokenVerifier = request.app.state.token_verifier
        return await verifier.verify(token.strip())


current_principal = BearerPrincipal()
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def ensure_roles(principal: Principal, *roles: str) -> Principal:
    """403 unless an agent holding one of ``roles`` or aliases (admin holds them all)."""
    if not principal.is_agent_with(*roles):
        raise Forbidden(f"This needs one of the roles: {', '.join(expand(*roles))}.")
    return principal


def require_roles(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """An agent holding one of ``roles`` or aliases (admin holds them all)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        return ensure_roles(principal, *roles)

    return dependency


def ensure_scope(principal: Principal, scope: str, *, or_admin: bool = False) -> Principal:
    """403 unless a partner (or service) token carries ``scope``; with ``or_admin``, an
    administrator also passes."""
    if principal.has_scope(scope) or (or_admin and principal.is_admin):
        return principal
    raise Forbidden(f"This needs the scope {scope}.", required_scope=scope)


def require_scope(
    scope: str, *, or_admin: bool = False
) -> Callable[[Principal], Awaitable[Principal]]:
    """The one scope check: a partner (or service) token carrying ``scope`` (see ensure_scope)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        return ensure_scope(principal, scope, or_admin=or_admin)

    return dependency
