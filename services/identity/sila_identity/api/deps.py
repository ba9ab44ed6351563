"""Typed dependencies of identity's routers: settings, keys, and the caller.

Identity checks more than a token's signature: an agent or partner disabled since the
token was issued, or an erased customer, is refused here (auth.accounts: at once by the
process that made the change, within seconds by the others; other services rely on the
short life of agents' tokens; see docs/identity.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from sila_common.app import runtime_of
from sila_common.auth import CurrentPrincipal, Principal, ensure_roles
from sila_common.problems import Unauthorized
from sila_common.roles import ADMIN, CUSTOMER_CARE, FRONT_OFFICE, SUPERVISION
from sila_common.service import Runtime
from sila_identity.auth.accounts import AccountChecks
from sila_identity.auth.keys import KeyStore
from sila_identity.settings import IdentitySettings


async def get_key_store(request: Request) -> KeyStore:
    keys = runtime_of(request).extras["keys"]
    assert isinstance(keys, KeyStore)
    return keys


async def get_identity_settings(request: Request) -> IdentitySettings:
    settings = runtime_of(request).settings
    assert isinstance(settings, IdentitySettings)
    return settings


KeyStoreDep = Annotated[KeyStore, Depends(get_key_store)]
IdentitySettingsDep = Annotated[IdentitySettings, Depends(get_identity_settings)]


async def get_account_checks(request: Request) -> AccountChecks:
    runtime = runtime_of(request)
    checks = runtime.extras.get("accounts")
    if checks is None:
        settings = runtime.settings
        assert isinstance(settings, IdentitySettings)
        checks = runtime.extras["accounts"] = AccountChecks(settings.account_check_seconds)
    assert isinstance(checks, AccountChecks)
    return checks


AccountChecksDep = Annotated[AccountChecks, Depends(get_account_checks)]


def forget_account(runtime: Runtime, account: str) -> None:
    """After committing a change to an account's standing: this process asks again."""
    checks = runtime.extras.get("accounts")
    if isinstance(checks, AccountChecks):
        checks.forget(account)


async def active_principal(
    request: Request, principal: CurrentPrincipal, accounts: AccountChecksDep
) -> Principal:
    """The caller, provided their account is still usable (auth.accounts)."""
    if not await accounts.usable(runtime_of(request).session_factory, principal):
        if principal.kind == "customer":
            raise Unauthorized("This customer account no longer exists.")
        raise Unauthorized(f"This {principal.kind} account is disabled.")
    return principal


Caller = Annotated[Principal, Depends(active_principal)]


def agent_with(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """An active agent holding one of ``roles`` (admin holds them all)."""

    async def dependency(principal: Caller) -> Principal:
        return ensure_roles(principal, *roles)

    return dependency


# The platform's role vocabulary (sila_common.roles): the same groups in every service.
FrontOffice = Annotated[Principal, Depends(agent_with(*FRONT_OFFICE))]
LookupAgent = Annotated[Principal, Depends(agent_with(*CUSTOMER_CARE))]
Supervisor = Annotated[Principal, Depends(agent_with(*SUPERVISION))]
Admin = Annotated[Principal, Depends(agent_with(ADMIN))]


def client_ip(request: Request, settings: IdentitySettings) -> str:
    """The caller's address, for per-IP rate limits."""
    if settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:64]
    return request.client.host if request.client else "unknown"
