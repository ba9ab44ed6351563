"""Typed dependencies of loyalty's routers, and who may do what in loyalty (the role x
endpoint matrix is in docs/loyalty.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from sila_common.auth import Principal
from sila_common.problems import Forbidden, NotFound
from sila_common.roles import AUDITING, CAMPAIGNS, CUSTOMER_CARE, SUPERVISION, expand
from sila_loyalty.runtime import LoyaltyRuntime


async def get_loyalty_runtime(request: Request) -> LoyaltyRuntime:
    """The process's runtime, with loyalty's settings (the app is made from its definition)."""
    runtime: LoyaltyRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[LoyaltyRuntime, Depends(get_loyalty_runtime)]

# Who reads one customer's account, ledger and redemptions (within their wilayas): the
# platform's customer care. Marketing and audit work on campaigns, never on one customer.
READERS = CUSTOMER_CARE
# Who defines campaigns, dry-runs them and holds draws.
MARKETING = CAMPAIGNS
# Who reads campaigns (their counters) and draws.
CAMPAIGN_READERS = (*CAMPAIGNS, *SUPERVISION, *AUDITING)
# Who re-runs a draw to check it.
AUDIT = AUDITING
# Who grants goodwill or corrects an account by hand.
ADJUSTERS = SUPERVISION


def ensure_reader(principal: Principal) -> None:
    """403 before any look-up for a caller who may read no one's account (marketing, audit,
    partners), so the answer never tells whether the account exists."""
    if principal.kind == "customer" or principal.is_agent_with(*READERS):
        return
    raise Forbidden(
        f"This needs a customer's own token or one of the roles: {', '.join(expand(*READERS))}."
    )


def ensure_may_read(principal: Principal, account: Any) -> None:
    """A customer reads their own account, an agent one in their wilayas; any other account
    is a 404, as for no account at all (no answer that confirms it exists)."""
    if principal.kind == "customer":
        if principal.customer_id != account.customer_id:
            raise NotFound(f"No loyalty account for customer {account.customer_id}.")
        return
    if principal.kind == "agent" and principal.has_role(*READERS):
        if not principal.may_read_customer(account.customer_id, account.wilaya_code):
            raise NotFound(f"No loyalty account for customer {account.customer_id}.")
        return
    ensure_reader(principal)
    raise NotFound(f"No loyalty account for customer {account.customer_id}.")


def ensure_agent(principal: Principal, roles: tuple[str, ...]) -> None:
    if principal.kind != "agent" or not principal.has_role(*roles):
        raise Forbidden(f"This needs one of the roles: {', '.join(expand(*roles))}.")
