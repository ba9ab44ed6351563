"""Accounts over HTTP: balance, tier and privileges; the ledger history; supervisors' entries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from sila_common.auth import CurrentPrincipal
from sila_common.pagination import KeysetPage, decode_cursor, encode_cursor
from sila_common.problems import Unprocessable
from sila_loyalty.api.deps import (
    ADJUSTERS,
    RuntimeDep,
    ensure_agent,
    ensure_may_read,
    ensure_reader,
)
from sila_loyalty.domain.ledger import RewardKind
from sila_loyalty.domain.tiers import PRIVILEGES, Tier
from sila_loyalty.flows import adjustments
from sila_loyalty.flows.accounts import balances_of, find_account
from sila_loyalty.tables import boosts, ledger_entries

router = APIRouter(prefix="/v1/loyalty/accounts", tags=["accounts"])


class Privileges(BaseModel):
    points_percent: int
    priority_line: bool
    description: str


class BoostRead(BaseModel):
    speed_mbps: int
    starts_at: datetime
    ends_at: datetime


class AccountRead(BaseModel):
    customer_id: str
    tier: str
    privileges: Privileges
    balances: dict[str, int]
    referral_code: str
    wilaya_code: str | None
    opened_at: datetime
    active_boosts: list[BoostRead]


class EntryRead(BaseModel):
    entry_id: str
    kind: str
    quantity: int
    reason: str
    label: str
    event_id: str | None
    campaign_id: str | None
    agent_id: str | None
    details: dict[str, Any] | None
    expires_at: datetime | None
    occurred_at: datetime
    recorded_at: datetime


class EntryPage(KeysetPage[EntryRead]):
    pass


def entry_read(row: Any) -> EntryRead:
    return EntryRead(
        entry_id=row.entry_id,
        kind=row.kind,
        quantity=row.quantity,
        reason=row.reason,
        label=row.label,
        event_id=row.event_id,
        campaign_id=row.campaign_id,
        agent_id=row.agent_id,
        details=row.details,
        expires_at=row.expires_at,
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
    )


@router.get("/{customer_id}", response_model=AccountRead, summary="Balance, tier, privileges")
async def get_account(customer_id: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> Any:
    ensure_reader(principal)
    async with runtime.session_factory() as session:
        account = await find_account(session, customer_id)
        ensure_may_read(principal, account)
        totals = await balances_of(session, customer_id)
        running = (
            await session.execute(
                select(boosts).where(
                    boosts.c.customer_id == customer_id, boosts.c.ended_at.is_(None)
                )
            )
        ).all()
    tier = Tier(account.tier)
    p = PRIVILEGES[tier]
    return AccountRead(
        customer_id=customer_id,
        tier=tier.value,
        privileges=Privileges(
            points_percent=p.points_percent,
            priority_line=p.priority_line,
            description=p.description,
        ),
        balances=totals,
        referral_code=account.referral_code,
        wilaya_code=account.wilaya_code,
        opened_at=account.opened_at,
        active_boosts=[
            BoostRead(speed_mbps=b.speed_mbps, starts_at=b.starts_at, ends_at=b.ends_at)
            for b in running
        ],
    )


@router.get(
    "/{customer_id}/ledger", response_model=EntryPage, summary="The ledger, newest first, paged"
)
async def get_ledger(
    customer_id: str,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    kind: Annotated[RewardKind | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EntryPage:
    ensure_reader(principal)
    query = select(ledger_entries).where(ledger_entries.c.customer_id == customer_id)
    if kind is not None:
        query = query.where(ledger_entries.c.kind == kind.value)
    if cursor is not None:
        (last_id,) = decode_cursor(cursor, size=1)
        if not isinstance(last_id, int):
            raise Unprocessable("The cursor is not one this API gave out.")
        query = query.where(ledger_entries.c.id < last_id)
    query = query.order_by(ledger_entries.c.id.desc()).limit(limit + 1)
    async with runtime.session_factory() as session:
        account = await find_account(session, customer_id)
        ensure_may_read(principal, account)
        rows = (await session.execute(query)).all()
    page = rows[:limit]
    next_cursor = encode_cursor([page[-1].id]) if len(rows) > limit else None
    return EntryPage(items=[entry_read(r) for r in page], next_cursor=next_cursor)


class AdjustmentCreate(BaseModel):
    kind: RewardKind
    quantity: int = Field(ge=-1_000_000, le=1_000_000)
    label: str = Field(min_length=3, max_length=200)
    speed_mbps: int | None = Field(default=None, ge=1, le=1000)


@router.post(
    "/{customer_id}/adjustments",
    status_code=status.HTTP_201_CREATED,
    response_model=EntryRead,
    summary="A supervisor's goodwill grant or correction (idempotent with Idempotency-Key)",
)
async def adjust(
    customer_id: str,
    body: AdjustmentCreate,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    response: Response,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    ensure_agent(principal, ADJUSTERS)
    if body.quantity == 0:
        raise Unprocessable(
            "An adjustment moves a balance.",
            errors=[{"field": "body.quantity", "message": "cannot be zero"}],
        )
    if body.kind is RewardKind.SPEED_BOOST and body.quantity > 0 and body.speed_mbps is None:
        raise Unprocessable(
            "A speed boost names its speed.",
            errors=[{"field": "body.speed_mbps", "message": "required for a speed boost"}],
        )

    adjusted = await adjustments.adjust_once(
        runtime,
        principal,
        customer_id=customer_id,
        kind=body.kind,
        quantity=body.quantity,
        label=body.label,
        speed_mbps=body.speed_mbps,
        key=idempotency_key,
        body={"customer_id": customer_id, **body.model_dump(mode="json")},
        authorise=lambda account: ensure_may_read(principal, account),
        render=lambda row: entry_read(row).model_dump(mode="json"),
    )
    response.status_code = adjusted.status
    if adjusted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return adjusted.body
