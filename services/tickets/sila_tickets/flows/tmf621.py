"""The TMF621 face's use cases: trouble tickets (our tickets, same rules and events) and
the hub's listeners (announced to notify, which delivers to them).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.idempotency import Last
from sila_common.problems import NotFound
from sila_tickets.domain.lifecycle import Status
from sila_tickets.domain.tmf import hub_event_types
from sila_tickets.events import HUB_SUBSCRIPTION_CHANGED, HubSubscriptionChanged
from sila_tickets.flows.lifecycle import transition
from sila_tickets.flows.notes import add_note
from sila_tickets.flows.opening import NewTicket, open_ticket
from sila_tickets.flows.shared import Caller, load_ticket
from sila_tickets.runtime import TicketsRuntime
from sila_tickets.tables import tickets, tmf_hub_subscriptions


async def open_trouble_ticket(
    runtime: TicketsRuntime, new: NewTicket, caller: Caller, notes: Sequence[str]
) -> str:
    """Open the ticket with its first (public) notes, in one transaction; returns its id."""
    last: list[Last] = []
    async with runtime.session_factory() as session, session.begin():
        row = await open_ticket(session, runtime, new, caller, later=last.append)
        ticket = await load_ticket(session, row["id"], lock=True)
        for text in notes:
            await add_note(session, runtime, ticket, text=text, public=True, caller=caller)
        # The chosen agent's stamp last: its row stays locked until the commit.
        for step in last:
            await step(session)
        return str(row["id"])


@dataclass(frozen=True)
class TroubleTicketChange:
    notes: Sequence[str]
    target: Status | None
    reason: str | None
    # Whether externalId was given (it may be given as null), and its value.
    sets_external_id: bool
    external_id: str | None


async def change_trouble_ticket(
    runtime: TicketsRuntime,
    ticket_id: str,
    change: TroubleTicketChange,
    *,
    caller: Caller,
    load: Callable[[AsyncSession, str], Any],
) -> None:
    """externalId, then notes, then the status (through the lifecycle), in one transaction.

    ``load`` loads and locks the ticket if the caller reaches it (404 otherwise).
    """
    async with runtime.session_factory() as session, session.begin():
        row = await load(session, ticket_id)
        if change.sets_external_id:
            await session.execute(
                tickets.update()
                .where(tickets.c.id == ticket_id)
                .values(external_id=change.external_id, updated_at=datetime.now(UTC))
            )
        for text in change.notes:
            row = await load_ticket(session, ticket_id)
            await add_note(session, runtime, row, text=text, public=True, caller=caller)
        if change.target is not None and change.target.value != row.status:
            row = await load_ticket(session, ticket_id)
            await transition(
                session, runtime, row, change.target, reason=change.reason, caller=caller
            )


@dataclass(frozen=True)
class Listener:
    """Who registers a hub listener: its owner label, the partner, and what it reaches."""

    owner: str
    partner_id: str
    reach: str  # "all" (an administrator) or "own" (the partner's tickets)


async def register_listener(
    runtime: TicketsRuntime, listener: Listener, callback: str, query: str | None
) -> str:
    subscription_id = str(uuid.uuid4())
    async with runtime.session_factory() as session, session.begin():
        await session.execute(
            insert(tmf_hub_subscriptions).values(
                id=subscription_id,
                partner=listener.owner,
                callback=callback,
                query=query,
                created_at=datetime.now(UTC),
            )
        )
        await _announce(session, runtime, listener, subscription_id, callback, query, True)
    return subscription_id


async def remove_listener(
    runtime: TicketsRuntime, listener: Listener, subscription_id: str
) -> None:
    async with runtime.session_factory() as session, session.begin():
        row = (
            await session.execute(
                select(tmf_hub_subscriptions)
                .where(tmf_hub_subscriptions.c.id == subscription_id)
                .with_for_update()
            )
        ).one_or_none()
        if row is None or row.partner != listener.owner:
            raise NotFound(f"No hub listener {subscription_id}.")
        await session.execute(
            delete(tmf_hub_subscriptions).where(tmf_hub_subscriptions.c.id == subscription_id)
        )
        await _announce(session, runtime, listener, subscription_id, row.callback, row.query, False)


async def _announce(
    session: AsyncSession,
    runtime: TicketsRuntime,
    listener: Listener,
    subscription_id: str,
    callback: str,
    query: str | None,
    active: bool,
) -> None:
    await runtime.outbox.record(
        session,
        HUB_SUBSCRIPTION_CHANGED,
        subject=subscription_id,
        customer_id=listener.partner_id,
        data=HubSubscriptionChanged(
            subscription_id=subscription_id,
            partner_id=listener.partner_id,
            callback=callback,
            query=query,
            active=active,
            event_types=hub_event_types(query),
            reach=listener.reach,
        ),
    )
