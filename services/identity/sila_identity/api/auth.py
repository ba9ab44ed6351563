"""Log-in: the OAuth 2.0 token endpoint, one-time codes, revocation, logout, and the JWKS.

Grants of ``POST /v1/oauth/token`` (form-encoded, RFC 6749):

- ``password``: agents (``username``, ``password``);
- ``urn:sila:params:oauth:grant-type:otp``: customers (``phone``, ``code`` received by SMS
  after ``POST /v1/auth/otp``);
- ``client_credentials``: partners (``client_id`` and ``client_secret``, in the form or by
  HTTP Basic; optional ``scope`` narrows what was granted), and Sila's own services
  (``SILA_IDENTITY_SERVICE_CLIENTS``: a ``service`` token with ``customers:read``);
- ``refresh_token``: rotates a refresh token (agents and customers).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, Response, status
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy import select

from sila_common.problems import Unprocessable
from sila_common.settings import Profile
from sila_identity.api.deps import Caller, IdentitySettingsDep, KeyStoreDep, RuntimeDep, client_ip
from sila_identity.auth import otp, ratelimit, sessions
from sila_identity.auth.errors import OAuthError, invalid_grant
from sila_identity.auth.keys import KeyStore
from sila_identity.auth.passwords import PasswordChecker
from sila_identity.auth.tokens import issue_access_token
from sila_identity.domain.errors import InvalidValue
from sila_identity.domain.phone import normalize_phone
from sila_identity.domain.ratelimit import Limit
from sila_identity.flows import login
from sila_identity.runtime import IdentityRuntime
from sila_identity.settings import (
    DEFAULT_AGENT_ACCESS_TOKEN_TTL_SECONDS,
    SERVICE_SCOPE,
    IdentitySettings,
)
from sila_identity.tables import agents, customers, partners

router = APIRouter(tags=["log-in"])

OTP_GRANT = "urn:sila:params:oauth:grant-type:otp"
GRANTS = ("password", OTP_GRANT, "client_credentials", "refresh_token")


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    scope: str = ""
    refresh_token: str | None = None


class OtpRequest(BaseModel):
    phone: str = Field(min_length=6, max_length=40, examples=["0550 12 34 56"])


class OtpAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    detail: str = "If this number belongs to a customer, a code is on its way by SMS."
    expires_in: int = 300


def agent_ttl(settings: IdentitySettings, profile: Profile) -> int:
    """Agents' access-token life: short, so that disabling an agent bites within a minute."""
    if settings.agent_access_token_ttl_seconds is not None:
        return settings.agent_access_token_ttl_seconds
    if profile == Profile.TEST:
        return settings.access_token_ttl_seconds
    return DEFAULT_AGENT_ACCESS_TOKEN_TTL_SECONDS


@router.post(
    "/v1/oauth/token",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    summary="Obtain an access token",
    description=__doc__,
)
async def token(
    request: Request,
    runtime: RuntimeDep,
    keys: KeyStoreDep,
    settings: IdentitySettingsDep,
    grant_type: Annotated[str, Form()],
    username: Annotated[str | None, Form(max_length=100)] = None,
    password: Annotated[str | None, Form(max_length=200)] = None,
    phone: Annotated[str | None, Form(max_length=40)] = None,
    code: Annotated[str | None, Form(max_length=20)] = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[str | None, Form(max_length=500)] = None,
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
) -> TokenResponse:
    issuer = _Issuer(runtime, keys, settings)
    guard = _LoginGuard(runtime, settings, client_ip(request, settings))
    if grant_type == "password":
        if not username or not password:
            raise OAuthError("username and password are required.", error="invalid_request")
        return await _password_grant(runtime, guard, issuer, username, password)
    if grant_type == OTP_GRANT:
        if not phone or not code:
            raise OAuthError("phone and code are required.", error="invalid_request")
        await ratelimit.hit(
            runtime.session_factory,
            Limit("otp-guesses-ip", settings.otp_guesses_per_ip_per_hour, 3600),
            client_ip(request, settings),
        )
        try:
            e164 = normalize_phone(phone).e164
        except InvalidValue as exc:
            raise invalid_grant("The code is wrong or has expired; ask for a new one.") from exc
        customer_id = await otp.redeem_code(runtime, e164, code)
        return await issuer.for_customer(customer_id)
    if grant_type == "client_credentials":
        basic = _basic_credentials(request)
        if basic is not None:
            client_id, client_secret = basic
        if not client_id or not client_secret:
            raise OAuthError("Client credentials are required.", error="invalid_client", status=401)
        return await _client_credentials_grant(
            runtime, guard, issuer, client_id, client_secret, scope
        )
    if grant_type == "refresh_token":
        if not refresh_token:
            raise OAuthError("refresh_token is required.", error="invalid_request")
        await guard.before("refresh")
        try:
            redeemed = await sessions.redeem(runtime.session_factory, refresh_token)
        except OAuthError:
            await guard.failed("refresh")
            raise
        return await issuer.renew(redeemed)
    raise OAuthError(
        f"The grant type {grant_type[:80]!r} is not supported; use one of {', '.join(GRANTS)}.",
        error="unsupported_grant_type",
    )


class _Issuer:
    """Signs access tokens and starts or continues refresh-token families."""

    def __init__(
        self, runtime: IdentityRuntime, keys: KeyStore, settings: IdentitySettings
    ) -> None:
        self.runtime = runtime
        self.keys = keys
        self.settings = settings

    async def for_agent(self, agent: Any, family_id: str | None = None) -> TokenResponse:
        ttl = agent_ttl(self.settings, self.runtime.platform.profile)
        access = await issue_access_token(
            self.keys,
            self.runtime.platform,
            subject=agent.id,
            kind="agent",
            ttl_seconds=ttl,
            roles=list(agent.roles),
            extra={
                "wilayas": list(agent.wilayas),
                "agency": agent.agency,
                "name": agent.display_name,
            },
        )
        refresh = await self._refresh("agent", agent.id, "", family_id)
        return TokenResponse(access_token=access, expires_in=ttl, refresh_token=refresh)

    async def for_customer(self, customer_id: str, family_id: str | None = None) -> TokenResponse:
        ttl = self.settings.access_token_ttl_seconds
        access = await issue_access_token(
            self.keys,
            self.runtime.platform,
            subject=customer_id,
            kind="customer",
            ttl_seconds=ttl,
            extra={"customer_id": customer_id},
        )
        refresh = await self._refresh("customer", customer_id, "", family_id)
        return TokenResponse(access_token=access, expires_in=ttl, refresh_token=refresh)

    async def for_partner(self, partner: Any, scope: str) -> TokenResponse:
        ttl = self.settings.access_token_ttl_seconds
        access = await issue_access_token(
            self.keys,
            self.runtime.platform,
            subject=partner.id,
            kind="partner",
            ttl_seconds=ttl,
            scope=scope,
            extra={"name": partner.name},
        )
        # No refresh token: a partner holds its credentials and asks again (RFC 6749 4.4.3).
        return TokenResponse(access_token=access, expires_in=ttl, scope=scope)

    async def for_service(self, name: str) -> TokenResponse:
        ttl = self.settings.access_token_ttl_seconds
        access = await issue_access_token(
            self.keys,
            self.runtime.platform,
            subject=f"service:{name}",
            kind="service",
            ttl_seconds=ttl,
            scope=SERVICE_SCOPE,
            extra={"name": name},
        )
        return TokenResponse(access_token=access, expires_in=ttl, scope=SERVICE_SCOPE)

    async def renew(self, redeemed: sessions.Redeemed) -> TokenResponse:
        """New tokens for the holder of a just-redeemed refresh token, if still allowed."""
        async with self.runtime.session_factory() as session:
            if redeemed.principal_kind == "agent":
                agent = (
                    await session.execute(select(agents).where(agents.c.id == redeemed.subject))
                ).one_or_none()
                allowed = agent is not None and not agent.disabled
            else:
                erased = (
                    await session.execute(
                        select(customers.c.erased_at).where(customers.c.id == redeemed.subject)
                    )
                ).one_or_none()
                allowed = erased is not None and erased.erased_at is None
        if not allowed:
            await login.revoke_family(self.runtime, redeemed.family_id)
            raise invalid_grant("The account is disabled; log in again once it is restored.")
        if redeemed.principal_kind == "agent":
            return await self.for_agent(agent, redeemed.family_id)
        return await self.for_customer(redeemed.subject, redeemed.family_id)

    async def _refresh(self, kind: str, subject: str, scope: str, family_id: str | None) -> str:
        ttl = (
            self.settings.agent_refresh_token_ttl_seconds
            if kind == "agent"
            else self.settings.customer_refresh_token_ttl_seconds
        )
        return await login.start_refresh(
            self.runtime,
            principal_kind=kind,
            subject=subject,
            ttl_seconds=ttl,
            scope=scope,
            family_id=family_id,
        )


class _LoginGuard:
    """Limits on failed log-ins: per address and account, per address, slowing per account.

    No account is ever locked: ten wrong passwords for ``admin`` from one address must not
    keep the real admin out. The address that fails too often for an account, or for
    accounts in general, gets 429 before any password is checked (so it costs no argon2
    work either); everyone else trying an account that is being guessed waits
    ``login_slowdown_seconds`` per attempt, which slows a guesser spread over many addresses
    without refusing the owner.
    """

    def __init__(self, runtime: IdentityRuntime, settings: IdentitySettings, address: str) -> None:
        self.factory = runtime.session_factory
        self.settings = settings
        self.address = address
        window = settings.login_failures_window_seconds
        self.per_pair = Limit(
            "login-failures-pair", settings.login_failures_per_account_and_ip, window
        )
        self.per_address = Limit("login-failures-ip", settings.login_failures_per_ip, window)
        self.per_account = Limit(
            "login-failures-account", settings.login_failures_before_slowing, window
        )

    async def before(self, account: str) -> None:
        await ratelimit.ensure_under(self.factory, self.per_address, self.address)
        await ratelimit.ensure_under(self.factory, self.per_pair, f"{account}|{self.address}")
        if (
            await ratelimit.current(self.factory, self.per_account, account)
            >= self.per_account.hits
        ):
            await asyncio.sleep(self.settings.login_slowdown_seconds)

    async def failed(self, account: str) -> None:
        await ratelimit.count(self.factory, self.per_address, self.address)
        await ratelimit.count(self.factory, self.per_pair, f"{account}|{self.address}")
        await ratelimit.count(self.factory, self.per_account, account)


def password_checker(runtime: IdentityRuntime, settings: IdentitySettings) -> PasswordChecker:
    return runtime.collaborators.get_or_make(
        PasswordChecker, lambda: PasswordChecker(settings.password_checks_concurrency)
    )


async def _password_grant(
    runtime: IdentityRuntime, guard: _LoginGuard, issuer: _Issuer, username: str, password: str
) -> TokenResponse:
    account = f"agent:{username.lower()}"
    await guard.before(account)
    async with runtime.session_factory() as session:
        agent = (
            await session.execute(select(agents).where(agents.c.username == username))
        ).one_or_none()
    checker = password_checker(runtime, guard.settings)
    valid = await checker.verify(agent.password_hash if agent else None, password)
    if agent is None or not valid or agent.disabled:
        if not valid:
            await guard.failed(account)
        raise invalid_grant("The username or password is wrong, or the account is disabled.")
    return await issuer.for_agent(agent)


async def _client_credentials_grant(
    runtime: IdentityRuntime,
    guard: _LoginGuard,
    issuer: _Issuer,
    client_id: str,
    secret: str,
    scope: str | None,
) -> TokenResponse:
    account = f"partner:{client_id}"
    await guard.before(account)
    service_secret = issuer.settings.service_clients.get(client_id)
    if service_secret is not None:
        try:
            return await _service_grant(issuer, client_id, secret, service_secret, scope)
        except OAuthError:
            await guard.failed(account)
            raise
    async with runtime.session_factory() as session:
        partner = (
            await session.execute(select(partners).where(partners.c.client_id == client_id))
        ).one_or_none()
    checker = password_checker(runtime, guard.settings)
    valid = await checker.verify(partner.secret_hash if partner else None, secret)
    if partner is None or not valid or partner.disabled:
        if not valid:
            await guard.failed(account)
        raise OAuthError(
            "The client is unknown, its secret is wrong, or it is disabled.",
            error="invalid_client",
            status=401,
        )
    granted = set(partner.scopes)
    wanted = set(scope.split()) if scope else granted
    if not wanted <= granted:
        raise OAuthError(
            f"Scopes not granted to this client: {', '.join(sorted(wanted - granted))}.",
            error="invalid_scope",
        )
    return await issuer.for_partner(partner, " ".join(sorted(wanted)))


async def _service_grant(
    issuer: _Issuer, client_id: str, secret: str, expected: SecretStr, scope: str | None
) -> TokenResponse:
    """One of Sila's services (SILA_IDENTITY_SERVICE_CLIENTS): a ``service`` token that may
    read customers, for the directory look-ups of tickets and notify."""
    if not hmac.compare_digest(secret.encode(), expected.get_secret_value().encode()):
        raise OAuthError(
            "The client is unknown, its secret is wrong, or it is disabled.",
            error="invalid_client",
            status=401,
        )
    if scope and set(scope.split()) - {SERVICE_SCOPE}:
        raise OAuthError(f"A service may only ask for {SERVICE_SCOPE}.", error="invalid_scope")
    return await issuer.for_service(client_id)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError(
            "Malformed Basic credentials.", error="invalid_client", status=401
        ) from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("Malformed Basic credentials.", error="invalid_client", status=401)
    return client_id, secret


@router.post(
    "/v1/auth/otp",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OtpAccepted,
    summary="Ask for a one-time log-in code by SMS",
    description=(
        "Always 202 for a well-formed Algerian number, whether or not a customer has it. "
        "The code is valid 5 minutes for 5 guesses; then call `POST /v1/oauth/token` with "
        f"`grant_type={OTP_GRANT}`, `phone` and `code`. Rate limited per phone number and "
        "per client address (429 with Retry-After)."
    ),
)
async def request_otp(
    body: OtpRequest, request: Request, runtime: RuntimeDep, settings: IdentitySettingsDep
) -> OtpAccepted:
    try:
        phone = normalize_phone(body.phone).e164
    except InvalidValue as exc:
        raise Unprocessable.at("body.phone", exc.reason, kind="phone") from exc
    await ratelimit.hit(
        runtime.session_factory,
        Limit("otp-requests-ip", settings.otp_requests_per_ip_per_hour, 3600),
        client_ip(request, settings),
    )
    await ratelimit.hit(
        runtime.session_factory,
        Limit("otp-requests-phone", settings.otp_requests_per_phone_per_hour, 3600),
        phone,
    )
    await otp.request_code(runtime, phone)
    return OtpAccepted()


@router.post(
    "/v1/oauth/revoke",
    status_code=status.HTTP_200_OK,
    summary="Revoke a refresh token (RFC 7009)",
    description=(
        "Revokes the refresh token and every token of its log-in session. Answers 200 "
        "whether or not the token was known, as RFC 7009 asks. Access tokens are short-"
        "lived JWTs and cannot be revoked; they expire on their own."
    ),
)
async def revoke(
    runtime: RuntimeDep,
    token: Annotated[str, Form(max_length=4096)],
    token_type_hint: Annotated[str | None, Form(max_length=40)] = None,
) -> Response:
    if token_type_hint not in (None, "refresh_token", "access_token"):
        raise OAuthError("Unknown token_type_hint.", error="unsupported_token_type")
    await login.revoke_token(runtime, token)
    return Response(status_code=status.HTTP_200_OK)


class LogoutRequest(BaseModel):
    refresh_token: str | None = Field(default=None, max_length=200)
    everywhere: bool = False


@router.post(
    "/v1/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out: end this session, or every session of the caller",
)
async def logout(runtime: RuntimeDep, principal: Caller, body: LogoutRequest) -> Response:
    subject = principal.customer_id if principal.kind == "customer" else principal.subject
    await login.log_out(
        runtime,
        subject,
        account=principal.subject,
        refresh_token=body.refresh_token,
        everywhere=body.everywhere,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/.well-known/jwks.json", summary="The public keys that verify Sila's tokens")
async def jwks(keys: KeyStoreDep) -> dict[str, Any]:
    return await keys.jwks()
