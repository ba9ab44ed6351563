"""The audit log (law 18-07): who read or changed which customer, never the values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_common.auth import Principal
from sila_common.correlation import current_correlation_id
from sila_identity.tables import audit_log


def _row(
    principal: Principal,
    action: str,
    customer_id: str | None,
    target: str | None,
    detail: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "at": datetime.now(UTC),
        "actor_kind": principal.kind,
        "actor_id": principal.subject,
        "action": action,
        "customer_id": customer_id,
        "target": target,
        "detail": dict(detail or {}),
        "correlation_id": current_correlation_id(),
    }


def read_row(
    principal: Principal, action: str, detail: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The values of a read's audit rows but the customer (a statement that finds the
    customers writes one row per customer with them: queries.by_phone_audited)."""
    return _row(principal, action, None, None, detail)


async def record(
    session: AsyncSession,
    principal: Principal,
    action: str,
    *,
    customer_id: str | None = None,
    target: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Audit a change inside the transaction that makes it."""
    await session.execute(
        insert(audit_log).values(**_row(principal, action, customer_id, target, detail))
    )


async def record_reads(
    factory: async_sessionmaker[AsyncSession],
    principal: Principal,
    action: str,
    customer_ids: Iterable[str],
    *,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Audit a read of customers' data, in its own transaction (a read has none)."""
    async with factory() as session, session.begin():
        await record_reads_in(session, principal, action, customer_ids, detail=detail)


async def record_reads_in(
    session: AsyncSession,
    principal: Principal,
    action: str,
    customer_ids: Iterable[str],
    *,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Audit a read of customers' data at the end of the transaction that read it.

    On PostgreSQL the transaction then commits asynchronously (``synchronous_commit = off``
    for this transaction only): the agent does not wait for a disk flush to identify a
    caller. A database crash may lose the last fraction of a second of read records, never
    a change's (those commit with the change), and never leaves a partial row. The
    transaction must have written nothing else.
    """
    rows = [_row(principal, action, cid, None, detail) for cid in dict.fromkeys(customer_ids)]
    if not rows:
        return
    await session.execute(text("SET LOCAL synchronous_commit = off"))
    await session.execute(insert(audit_log), rows)
