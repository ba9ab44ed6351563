"""Typed dependencies of loyalty's routers, and who may do what in loyalty (the role x
endpoint matrix is in docs/loyalty.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from sila_common.auth import Principal
from sila_common.problems import Forbidden, NotFound
from sila_loyalty.runtime import LoyaltyRuntime


async def get_loyalty_runtime(request: Request) -> LoyaltyRuntime:
    """The process's runtime, with loyalty's settings (the app is made from its definition)."""
    runtime: LoyaltyRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[LoyaltyRuntime, Depends(get_loyalty_runtime)]

# Agents who read a customer's account (within their wilayas).
READER_ROLES = ("agent", "supervisor", "billing", "marketing", "audit")
# Who defines campaigns and holds draws.
MARKETING = ("marketing",)
# Who reads campaigns and draws.
CAMPAIGN_READERS = ("marketing", "supervisor", "audit")
# Who re-runs a draw to check it.
AUDIT = ("audit",)
# Who grants goodwill or corrects an account by hand.
ADJUSTERS = ("supervisor",)


def ensure_may_read(principal: Principal, account: Any) -> None:
    """A customer reads their own account, an agent one in their wilayas; any other account
    is a 404, as for no account at all (no answer that confirms it exists)."""
    if principal.kind == "customer":
        if principal.customer_id != account.customer_id:
            raise NotFound(f"No loyalty account for customer {account.customer_id}.")
        return
    if principal.kind == "agent" and principal.has_role(*READER_ROLES):
        if not principal.serves_wilaya(account.wilaya_code):
            raise NotFound(f"No loyalty account for customer {account.customer_id}.")
        return
    raise Forbidden("This needs a customer's own token or an agent role.")


def ensure_agent(principal: Principal, roles: tuple[str, ...]) -> None:
    if principal.kind != "agent" or not principal.has_role(*roles):
        raise Forbidden(f"This needs one of the roles: {', '.join(roles)}.")
