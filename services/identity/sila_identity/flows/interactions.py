"""Interactions: a contact with the customer (call, visit, message, callback), logged."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.idempotency import Created, create_once
from sila_identity.events import INTERACTION_LOGGED, InteractionLogged
from sila_identity.flows import audit
from sila_identity.runtime import IdentityRuntime
from sila_identity.tables import interactions


async def log_interaction(
    runtime: IdentityRuntime,
    principal: Principal,
    customer_id: str,
    interaction: dict[str, Any],
    *,
    occurred: datetime,
    now: datetime,
    idempotency_key: str | None,
    request: Any,
    render: Callable[[dict[str, Any]], dict[str, Any]],
) -> Created:
    """Log a (validated) contact once per Idempotency-Key: its row, its event, the audit."""

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        interaction_id = str(uuid.uuid4())
        row = interaction | {
            "id": interaction_id,
            "customer_id": customer_id,
            "agent_id": principal.subject,
            "occurred_at": occurred.astimezone(UTC),
            "created_at": now,
        }
        await session.execute(insert(interactions).values(**row))
        await runtime.outbox.record(
            session,
            INTERACTION_LOGGED,
            subject=interaction_id,
            customer_id=customer_id,
            data=InteractionLogged(
                interaction_id=interaction_id,
                customer_id=customer_id,
                channel=interaction["channel"],
                direction=interaction["direction"],
                reason=interaction["reason"],
                outcome=interaction["outcome"],
                duration_seconds=interaction["duration_seconds"],
                agent_id=principal.subject,
                ticket_id=interaction["ticket_id"],
                social_network=interaction["social_network"],
            ),
        )
        await audit.record(
            session, principal, "interaction.log", customer_id=customer_id, target=interaction_id
        )
        return 201, render(row)

    return await create_once(runtime, principal, key=idempotency_key, body=request, work=work)
