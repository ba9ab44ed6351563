"""A customer the directory lacks (registered a moment ago, its event not yet consumed):
asked of identity, and identity's answer kept (docs/platform.md, "A customer the service has
not heard of yet")."""

from __future__ import annotations

from sila_common.identity_client import identity_client_of
from sila_notify.directory import remember_identity_answer
from sila_notify.runtime import NotifyRuntime


async def learn_customer(runtime: NotifyRuntime, customer_id: str) -> bool:
    """Ask identity about ``customer_id`` and keep its answer; False when identity knows no
    such customer (503 ``IdentityUnavailable`` when it cannot answer)."""
    answer = await identity_client_of(runtime).customer(customer_id)
    if answer is None:
        return False
    async with runtime.session_factory() as session, session.begin():
        await remember_identity_answer(session, answer)
    return True
