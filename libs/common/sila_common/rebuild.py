"""Rebuilding a read model from the services' event history.

1. ``python -m sila_<service> reset-consumer <consumer>`` empties the consumer's read model
   and forgets which events it applied (its inbox rows), in one transaction.
2. ``python -m sila_<service> replay`` in every service whose events feed it republishes the
   retained history; the running consumer applies it all again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete

from sila_common.problems import NotFound
from sila_common.service import Runtime


async def reset_consumer(runtime: Runtime[Any], name: str) -> None:
    spec = next((c for c in runtime.definition.consumers if c.name == name), None)
    if spec is None:
        known = ", ".join(c.name for c in runtime.definition.consumers) or "none"
        raise NotFound(f"{runtime.definition.name} has no consumer {name!r} (known: {known})")
    if spec.reset is None:
        raise NotFound(f"the consumer {name!r} builds no read model that can be reset")
    inbox = runtime.definition.tables.inbox
    async with runtime.session_factory() as session, session.begin():
        await spec.reset(session)
        await session.execute(delete(inbox).where(inbox.c.consumer == name))
