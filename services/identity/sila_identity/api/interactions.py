"""Interactions: every contact an agent has with a customer, ticket or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from sila_common.db import as_utc, newest_first
from sila_common.inputs import Instant, decode_time_cursor
from sila_common.pagination import KeysetPage, next_time_cursor
from sila_common.problems import Conflict, NotFound, Unprocessable
from sila_identity.api.deps import LookupAgent, RuntimeDep
from sila_identity.directory import load_row
from sila_identity.domain.interactions import (
    Direction,
    Interaction,
    InteractionChannel,
    InteractionOutcome,
    InteractionReason,
    InvalidInteraction,
    SocialNetwork,
    validate_interaction,
)
from sila_identity.flows import audit
from sila_identity.flows import interactions as flows
from sila_identity.tables import interactions

router = APIRouter(prefix="/v1/customers", tags=["interactions"])
# Agents log contacts as they happen or shortly after, not in the future.
CLOCK_SKEW = timedelta(minutes=5)


class InteractionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: InteractionChannel
    direction: Direction
    reason: InteractionReason
    outcome: InteractionOutcome
    duration_seconds: int | None = Field(default=None, ge=0)
    social_network: SocialNetwork | None = None
    ticket_id: str | None = Field(default=None, min_length=1, max_length=36)
    notes: str | None = Field(default=None, max_length=2000)
    occurred_at: Instant | None = None


class InteractionRead(BaseModel):
    id: str
    customer_id: str
    channel: str
    direction: str
    reason: str
    outcome: str
    duration_seconds: int | None
    social_network: str | None
    ticket_id: str | None
    notes: str | None
    agent_id: str
    occurred_at: datetime
    created_at: datetime


class InteractionPage(KeysetPage[InteractionRead]):
    pass


def interaction_read(row: Any) -> InteractionRead:
    read = InteractionRead.model_validate(row, from_attributes=True)
    return read.model_copy(
        update={"occurred_at": as_utc(read.occurred_at), "created_at": as_utc(read.created_at)}
    )


@router.post(
    "/{customer_id}/interactions",
    status_code=status.HTTP_201_CREATED,
    response_model=InteractionRead,
    summary="Log a contact with the customer",
    description=(
        "channel: call_centre (the 12), agency (a visit), social (with social_network), "
        "email, callback (a 'rappel client', outbound). Calls carry duration_seconds."
    ),
)
async def log_interaction(
    customer_id: str,
    body: InteractionCreate,
    response: Response,
    runtime: RuntimeDep,
    principal: LookupAgent,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    occurred = body.occurred_at or now
    if occurred.tzinfo is None:
        raise _invalid("occurred_at", "give the time with its offset (RFC 3339)")
    if occurred > now + CLOCK_SKEW:
        raise _invalid("occurred_at", "a contact cannot be logged before it happens")
    try:
        validate_interaction(
            Interaction(
                channel=body.channel,
                direction=body.direction,
                reason=body.reason,
                outcome=body.outcome,
                duration_seconds=body.duration_seconds,
                social_network=body.social_network,
                ticket_id=body.ticket_id,
            )
        )
    except InvalidInteraction as exc:
        raise _invalid(exc.field, exc.reason) from exc
    async with runtime.session_factory() as session:
        customer = await load_row(session, customer_id, reader=principal)
    if customer.erased_at is not None:
        raise Conflict("This customer was erased; no contact can be logged.")

    created = await flows.log_interaction(
        runtime,
        principal,
        customer_id,
        body.model_dump(mode="json"),
        occurred=occurred,
        now=now,
        idempotency_key=idempotency_key,
        request={"customer_id": customer_id, **body.model_dump(mode="json")},
        render=lambda row: InteractionRead.model_validate(row).model_dump(mode="json"),
    )
    return created.render(
        response, location=f"/v1/customers/{customer_id}/interactions/{created.body['id']}"
    )


def _invalid(field: str, reason: str) -> Unprocessable:
    return Unprocessable.at(f"body.{field}", reason, kind="interaction")


@router.get(
    "/{customer_id}/interactions",
    response_model=InteractionPage,
    summary="The contacts logged with a customer, newest first",
    description="For agents: the notes are internal. Customers see contacts on their timeline.",
)
async def list_interactions(
    customer_id: str,
    runtime: RuntimeDep,
    principal: LookupAgent,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> InteractionPage:
    t = interactions.c
    query = select(interactions).where(t.customer_id == customer_id)
    after = decode_time_cursor(cursor) if cursor else None
    query = newest_first(query, t.occurred_at, t.id, after=after, limit=limit)
    async with runtime.session_factory() as session:
        await load_row(session, customer_id, reader=principal)
        rows = (await session.execute(query)).all()
    await audit.record_reads(runtime.session_factory, principal, "interaction.read", [customer_id])
    return InteractionPage(
        items=[interaction_read(r) for r in rows[:limit]],
        next_cursor=next_time_cursor(rows, limit, "occurred_at"),
    )


@router.get(
    "/{customer_id}/interactions/{interaction_id}",
    response_model=InteractionRead,
    summary="One logged contact",
)
async def get_interaction(
    customer_id: str, interaction_id: str, runtime: RuntimeDep, principal: LookupAgent
) -> InteractionRead:
    async with runtime.session_factory() as session:
        await load_row(session, customer_id, reader=principal)
        row = (
            await session.execute(
                select(interactions).where(
                    interactions.c.id == interaction_id,
                    interactions.c.customer_id == customer_id,
                )
            )
        ).one_or_none()
    if row is None:
        raise NotFound(f"No interaction {interaction_id}.")
    await audit.record_reads(runtime.session_factory, principal, "interaction.read", [customer_id])
    return interaction_read(row)
