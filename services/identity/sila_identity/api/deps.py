"""Typed dependencies of identity's routers: settings, keys, and the caller.

Identity checks more than a token's signature: an agent or partner disabled since the
token was issued, or an erased customer, is refused here (auth.accounts: at once by the
process that made the change, within seconds by the others; other services rely on the
short life of agents' tokens; see docs/identity.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sila_common.auth import BearerPrincipal, Principal, ensure_roles
from sila_common.problems import Unauthorized
from sila_common.roles import ADMIN, CUSTOMER_CARE, FRONT_OFFICE, SUPERVISION
from sila_identity.auth.accounts import AccountChecks
from sila_identity.auth.keys import KeyStore
from sila_identity.runtime import IdentityRuntime
from sila_identity.settings import IdentitySettings


# Dependencies are ``async def`` even when they await nothing: FastAPI runs a plain ``def``
# dependency in the thread pool.
async def get_identity_runtime(request: Request) -> IdentityRuntime:
    """The process's runtime, with identity's settings (the app is made from its definition)."""
    runtime: IdentityRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[IdentityRuntime, Depends(get_identity_runtime)]


async def get_key_store(runtime: RuntimeDep) -> KeyStore:
    return runtime.collaborators.get(KeyStore)


async def get_identity_settings(runtime: RuntimeDep) -> IdentitySettings:
    return runtime.settings


KeyStoreDep = Annotated[KeyStore, Depends(get_key_store)]
IdentitySettingsDep = Annotated[IdentitySettings, Depends(get_identity_settings)]


def account_checks_of(runtime: IdentityRuntime) -> AccountChecks:
    return runtime.collaborators.get_or_make(
        AccountChecks, lambda: AccountChecks(runtime.settings.account_check_seconds)
    )


async def get_account_checks(runtime: RuntimeDep) -> AccountChecks:
    return account_checks_of(runtime)


AccountChecksDep = Annotated[AccountChecks, Depends(get_account_checks)]


async def ensure_active(request: Request, principal: Principal) -> Principal:
    """The caller, provided their account is still usable (auth.accounts)."""
    runtime: IdentityRuntime = request.app.state.runtime
    if not await account_checks_of(runtime).usable(runtime.session_factory, principal):
        if principal.kind == "customer":
            raise Unauthorized("This customer account no longer exists.")
        raise Unauthorized(f"This {principal.kind} account is disabled.")
    return principal


# The checks of a caller are one dependency, not a chain: FastAPI's dependency solving
# costs per dependency and was a fifth of a phone lookup's CPU (docs/benchmarks.md).
class ActivePrincipal(BearerPrincipal):
    """The authenticated caller whose account is still usable; with ``roles``, an agent
    holding one of them (admin holds them all)."""

    def __init__(self, *roles: str) -> None:
        super().__init__()
        self.roles = roles

    async def __call__(self, request: Request) -> Principal:
        principal = await ensure_active(request, await super().__call__(request))
        return ensure_roles(principal, *self.roles) if self.roles else principal


active_caller = ActivePrincipal()
Caller = Annotated[Principal, Depends(active_caller)]


# The platform's role vocabulary (sila_common.roles): the same groups in every service.
FrontOffice = Annotated[Principal, Depends(ActivePrincipal(*FRONT_OFFICE))]
lookup_agent = ActivePrincipal(*CUSTOMER_CARE)
LookupAgent = Annotated[Principal, Depends(lookup_agent)]
Supervisor = Annotated[Principal, Depends(ActivePrincipal(*SUPERVISION))]
Admin = Annotated[Principal, Depends(ActivePrincipal(ADMIN))]


def client_ip(request: Request, settings: IdentitySettings) -> str:
    """The caller's address, for per-IP rate limits."""
    if settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:64]
    return request.client.host if request.client else "unknown"
