"""Typed dependencies and the access rules every notify router shares."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.app import runtime_of
from sila_common.auth import Principal, ensure_roles
from sila_common.problems import Forbidden, NotFound
from sila_common.roles import CONTENT, CUSTOMER_CARE, FRONT_OFFICE
from sila_notify.directory import recipient_row
from sila_notify.flows.recipients import learn_customer
from sila_notify.runtime import NotifyRuntime
from sila_notify.settings import NotifySettings

# The platform's groups (sila_common.roles), the same as in identity and tickets: customer
# care reads a customer's messages and preferences, the front office changes them (consent,
# as in identity), content roles edit templates and routes.
READERS = CUSTOMER_CARE
WRITERS = FRONT_OFFICE
CONTENT_ROLES = CONTENT


async def get_notify_runtime(request: Request) -> NotifyRuntime:
    """The process's runtime, with notify's settings (the app is made from notify's definition)."""
    runtime: NotifyRuntime = runtime_of(request)
    return runtime


async def get_notify_settings(
    runtime: Annotated[NotifyRuntime, Depends(get_notify_runtime)],
) -> NotifySettings:
    return runtime.settings


RuntimeDep = Annotated[NotifyRuntime, Depends(get_notify_runtime)]
NotifySettingsDep = Annotated[NotifySettings, Depends(get_notify_settings)]


def customer_not_found(customer_id: str) -> NotFound:
    return NotFound(f"No customer {customer_id} is known to notify.")


async def customer_in_scope(
    session: AsyncSession,
    runtime: NotifyRuntime,
    principal: Principal,
    customer_id: str,
    *,
    roles: tuple[str, ...] = READERS,
) -> Any:
    """The directory row of a customer the caller may see (agents: holding one of ``roles``).

    Another customer's, and one outside an agent's wilayas, is the same 404 as an unknown
    one: outside their scope a caller learns nothing, not even that the customer exists.
    A customer the directory lacks (registered a moment ago, its event not yet consumed) is
    asked of identity, and the answer kept.
    """
    if principal.kind == "customer":
        if principal.customer_id != customer_id:
            raise customer_not_found(customer_id)
    elif principal.kind == "agent":
        ensure_roles(principal, *roles)
    elif principal.kind != "service":
        raise Forbidden("Partners do not read customers' notifications.")
    recipient = await recipient_row(session, customer_id)
    if recipient is None and await learn_customer(runtime, customer_id):
        recipient = await recipient_row(session, customer_id)
    if recipient is None or recipient.erased:
        raise customer_not_found(customer_id)
    if principal.kind == "agent" and not principal.serves_wilaya(recipient.wilaya_code):
        raise customer_not_found(customer_id)
    return recipient
