"""Typed dependencies of identity's routers: settings, keys, and the caller.

Identity checks more than a token's signature: an agent or partner disabled since the
token was issued, or an erased customer, is refused here at once (other services rely on
the short life of agents' tokens; see docs/identity.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select

from sila_common.app import get_runtime
from sila_common.auth import CurrentPrincipal, Principal
from sila_common.problems import Forbidden, Unauthorized
from sila_identity.auth.keys import KeyStore
from sila_identity.settings import IdentitySettings
from sila_identity.tables import agents, customers, partners


def get_key_store(request: Request) -> KeyStore:
    keys = get_runtime(request).extras["keys"]
    assert isinstance(keys, KeyStore)
    return keys


def get_identity_settings(request: Request) -> IdentitySettings:
    settings = get_runtime(request).settings
    assert isinstance(settings, IdentitySettings)
    return settings


KeyStoreDep = Annotated[KeyStore, Depends(get_key_store)]
IdentitySettingsDep = Annotated[IdentitySettings, Depends(get_identity_settings)]


async def active_principal(request: Request, principal: CurrentPrincipal) -> Principal:
    """The caller, provided their account is still usable right now."""
    runtime = get_runtime(request)
    async with runtime.session_factory() as session:
        if principal.kind == "agent":
            disabled = await session.scalar(
                select(agents.c.disabled).where(agents.c.id == principal.subject)
            )
            if disabled is None or disabled:
                raise Unauthorized("This agent account is disabled.")
        elif principal.kind == "partner":
            disabled = await session.scalar(
                select(partners.c.disabled).where(partners.c.id == principal.subject)
            )
            if disabled is None or disabled:
                raise Unauthorized("This partner account is disabled.")
        elif principal.kind == "customer":
            row = (
                await session.execute(
                    select(customers.c.erased_at).where(customers.c.id == principal.customer_id)
                )
            ).one_or_none()
            if row is None or row.erased_at is not None:
                raise Unauthorized("This customer account no longer exists.")
    return principal


Caller = Annotated[Principal, Depends(active_principal)]


def agent_with(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """An active agent holding one of ``roles`` (admin holds them all)."""

    async def dependency(principal: Caller) -> Principal:
        if principal.kind != "agent" or not principal.has_role(*roles):
            raise Forbidden(f"This needs one of the roles: {', '.join(roles)}.")
        return principal

    return dependency


FRONT_OFFICE = ("agent", "supervisor")
LOOKUP_ROLES = ("agent", "supervisor", "technician", "billing")

FrontOffice = Annotated[Principal, Depends(agent_with(*FRONT_OFFICE))]
LookupAgent = Annotated[Principal, Depends(agent_with(*LOOKUP_ROLES))]
Supervisor = Annotated[Principal, Depends(agent_with("supervisor"))]
Admin = Annotated[Principal, Depends(agent_with("admin"))]


def client_ip(request: Request, settings: IdentitySettings) -> str:
    """The caller's address, for per-IP rate limits."""
    if settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:64]
    return request.client.host if request.client else "unknown"
