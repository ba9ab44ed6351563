"""The audit log (law 18-07): who read or changed which customer, never the values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, insert, literal, select, text
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


def with_read_recorded(
    query: Select[Any], principal: Principal, action: str, customer_id: str
) -> Select[Any]:
    """``query`` also recording its read of the customer in the audit log, as
    ``record_reads_in`` would, in the same statement (a data-modifying CTE): one round trip
    instead of three (the read, SET LOCAL, the insert). The insert's one row is selected
    ``WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL``: that is SET LOCAL,
    evaluated once, so the transaction commits asynchronously as record_reads_in's do. Only
    for a transaction that writes nothing else."""
    row = _row(principal, action, customer_id, None, None)
    values = select(*(literal(value, audit_log.c[name].type) for name, value in row.items()))
    asynchronous = func.set_config("synchronous_commit", "off", True).is_not(None)
    audited = insert(audit_log).from_select(list(row), values.where(asynchronous))
    return query.add_cte(audited.cte("read_recorded"))
