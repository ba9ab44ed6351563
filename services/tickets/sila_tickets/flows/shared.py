"""What every ticket use case shares: who acts, loading a ticket and its history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.db import as_utc
from sila_common.problems import NotFound
from sila_tickets.domain.lifecycle import (
    Actor,
    Status,
    StatusSpan,
)
from sila_tickets.tables import (
    ticket_transitions,
    tickets,
)


@dataclass(frozen=True)
class Caller:
    """Who acts: written into the history as ``<kind>:<subject>``."""

    kind: str
    subject: str
    agency: str | None = None
    wilayas: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, principal: Principal) -> Caller:
        return cls(principal.kind, principal.subject, principal.agency, principal.wilayas)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.subject}"

    @property
    def actor(self) -> Actor:
        return Actor.CUSTOMER if self.kind == "customer" else Actor.STAFF


SYSTEM = Caller("system", "scheduler")
# Built once: every move of a ticket writes one (its compiled form is cached).
_INSERT_TRANSITION = insert(ticket_transitions)


def partner_of(opened_by: str) -> str | None:
    """The partner that opened a ticket (``partner:<id>`` in its history), if one did."""
    kind, _, subject = opened_by.partition(":")
    return subject if kind == "partner" else None


async def record_transition(
    session: AsyncSession,
    ticket_id: str,
    from_status: Status | None,
    to_status: Status,
    reason: str | None,
    caller: Caller,
    at: datetime,
) -> None:
    await session.execute(
        _INSERT_TRANSITION,
        {
            "ticket_id": ticket_id,
            "from_status": from_status.value if from_status else None,
            "to_status": to_status.value,
            "reason": reason,
            "actor": caller.label,
            "at": at,
        },
    )


async def load_ticket(session: AsyncSession, ticket_id: str, *, lock: bool = False) -> Any:
    query = select(tickets).where(tickets.c.id == ticket_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"No ticket {ticket_id}.")
    return row


async def history_of(session: AsyncSession, ticket_id: str) -> list[Any]:
    return list(
        (
            await session.execute(
                select(ticket_transitions)
                .where(ticket_transitions.c.ticket_id == ticket_id)
                .order_by(ticket_transitions.c.id)
            )
        ).all()
    )


def spans(history: Sequence[Any]) -> list[StatusSpan]:
    return [StatusSpan(Status(h.to_status), as_utc(h.at) or datetime.now(UTC)) for h in history]
