"""Service recovery: a breached commitment is compensated once per ticket, named on the grant."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from sila_loyalty.tables import accounts
from tests.integration.loyalty.conftest import (
    Emit,
    Staff,
    create_campaign,
    ledger_of,
    outbox_events,
    registered_by_event,
)
from tests.support import LiveService, eventually


async def test_a_breach_is_compensated_once_per_ticket_and_the_warning_is_not(
    loyalty: LiveService, staff: Staff, emit: Emit
) -> None:
    area = f"{uuid.uuid4().hex[:2]}"
    await create_campaign(
        loyalty,
        staff,
        trigger="tickets.ticket.escalated",
        reward={"kind": "bonus_hours", "quantity": 10, "label": "10 heures offertes"},
        conditions={"offers": [f"recovery_{area}"]},
    )
    customer = await registered_by_event(emit)
    await emit(
        "identity.contract.signed",
        customer,
        {"contract_id": str(uuid.uuid4()), "number": "C-1", "offer_code": f"recovery_{area}"},
    )
    # The offer comes on identity's topic, the breach on tickets': read the offer first.
    await eventually(lambda: _has_offer(loyalty, customer), what="the offer known")
    ticket_id = str(uuid.uuid4())
    escalation: dict[str, Any] = {
        "ticket_id": ticket_id,
        "number": "TT-2026-004242",
        "due_at": None,
        "queue": "technical",
        "wilaya_code": "15",
        "assignee_id": None,
    }
    await emit("tickets.ticket.escalated", customer, escalation | {"level": "warning"})
    await emit("tickets.ticket.escalated", customer, escalation | {"level": "breached"})
    # A second breach event for the same ticket (a re-raised escalation) changes nothing.
    await emit("tickets.ticket.escalated", customer, escalation | {"level": "breached"})

    async def compensated() -> list[Any] | None:
        granted = await outbox_events(loyalty, customer, "loyalty.reward.granted")
        return granted or None

    granted = await eventually(compensated, what="the compensation")
    marker = await registered_by_event(emit)  # events after it on other partitions: settle
    await eventually(lambda: _opened(loyalty, marker), what="later events read")
    entries = await ledger_of(loyalty, customer)
    assert [(e.kind, e.quantity) for e in entries] == [("bonus_hours", 10)]
    assert len(await outbox_events(loyalty, customer, "loyalty.reward.granted")) == 1
    assert granted[0]["data"]["ticket_number"] == "TT-2026-004242"
    assert entries[0].source_key.endswith(f":{ticket_id}")


async def _opened(loyalty: LiveService, customer_id: str) -> bool:
    return bool(await outbox_events(loyalty, customer_id, "loyalty.account.opened"))


async def _has_offer(loyalty: LiveService, customer_id: str) -> bool:
    async with loyalty.runtime.session_factory() as session:
        offers = await session.scalar(
            select(accounts.c.offers).where(accounts.c.customer_id == customer_id)
        )
    return bool(offers)
