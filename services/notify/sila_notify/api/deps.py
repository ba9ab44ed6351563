"""Typed dependencies and the access rules every notify router shares."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.problems import Forbidden, NotFound
from sila_notify.directory import recipient_row
from sila_notify.runtime import NotifyRuntime
from sila_notify.settings import NotifySettings

# Agents who may read and set a customer's notifications (admin holds every role).
FRONT_OFFICE = ("agent", "supervisor", "technician", "billing", "marketing")
# Who edits templates and routes, and who sends campaigns.
CONTENT_ROLES = ("supervisor", "marketing")


def get_notify_runtime(request: Request) -> NotifyRuntime:
    """The process's runtime, with notify's settings (the app is made from notify's definition)."""
    runtime: NotifyRuntime = request.app.state.runtime
    return runtime


def get_notify_settings(
    runtime: Annotated[NotifyRuntime, Depends(get_notify_runtime)],
) -> NotifySettings:
    return runtime.settings


RuntimeDep = Annotated[NotifyRuntime, Depends(get_notify_runtime)]
NotifySettingsDep = Annotated[NotifySettings, Depends(get_notify_settings)]


def customer_not_found(customer_id: str) -> NotFound:
    return NotFound(f"No customer {customer_id} is known to notify.")


async def customer_in_scope(session: AsyncSession, principal: Principal, customer_id: str) -> Any:
    """The directory row of a customer the caller may see; 404 for a customer's others."""
    if principal.kind == "customer":
        if principal.customer_id != customer_id:
            raise customer_not_found(customer_id)
    elif principal.kind == "agent":
        if not principal.has_role(*FRONT_OFFICE):
            raise Forbidden(f"This needs one of the roles: {', '.join(FRONT_OFFICE)}.")
    elif principal.kind != "service":
        raise Forbidden("Partners do not read customers' notifications.")
    recipient = await recipient_row(session, customer_id)
    if recipient is None or recipient.erased:
        raise customer_not_found(customer_id)
    if principal.kind == "agent" and not principal.serves_wilaya(recipient.wilaya_code):
        raise Forbidden(f"Your scope does not cover wilaya {recipient.wilaya_code}.")
    return recipient
