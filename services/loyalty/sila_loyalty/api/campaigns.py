"""Campaigns over HTTP: defined as data by marketing, checked field by field, tried on the
recorded events (dry run), paused; draws held, and re-run by auditors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select

from sila_common.auth import CurrentPrincipal
from sila_common.pagination import KeysetPage, decode_cursor, encode_cursor
from sila_common.problems import Unprocessable
from sila_loyalty.api.deps import (
    AUDIT,
    CAMPAIGN_READERS,
    MARKETING,
    RuntimeDep,
    ensure_agent,
)
from sila_loyalty.domain.campaigns import (
    TRIGGERS,
    Campaign,
    Caps,
    Conditions,
    FieldError,
    InvalidCampaign,
    Reward,
    default_label,
)
from sila_loyalty.domain.ledger import RewardKind
from sila_loyalty.domain.periods import Period, Season, UnknownSeason, season
from sila_loyalty.domain.tiers import Tier
from sila_loyalty.flows import campaigns as flows
from sila_loyalty.flows import draws as draw_flows
from sila_loyalty.tables import campaigns

router = APIRouter(prefix="/v1/loyalty", tags=["campaigns"])


class PeriodIn(BaseModel):
    """Either two instants with their offset, or a season of a year (Ramadan 2027)."""

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    season: Season | None = None
    year: int | None = Field(default=None, ge=2000, le=2100)


class RewardIn(BaseModel):
    kind: RewardKind
    quantity: int = Field(description="points, hours, boost hours, coupon centimes, gift count")
    label: str | None = Field(default=None, max_length=200)
    unit_cost_centimes: int = 0
    speed_mbps: int | None = None
    item: str | None = Field(default=None, max_length=50)


class ConditionsIn(BaseModel):
    offers: list[str] | None = Field(default=None, max_length=100)
    wilayas: list[str] | None = Field(default=None, max_length=100)
    tiers: list[Tier] | None = None
    min_tenure_days: int | None = None
    min_amount_centimes: int | None = None
    first_time: bool | None = None


class CapsIn(BaseModel):
    per_customer: int | None = None
    budget_centimes: int | None = None
    stock: int | None = None


class CampaignCreate(BaseModel):
    name: str = Field(min_length=3, max_length=200)
    trigger: str = Field(max_length=200, examples=sorted(TRIGGERS))
    period: PeriodIn
    reward: RewardIn
    conditions: ConditionsIn = ConditionsIn()
    caps: CapsIn = CapsIn()


class CampaignRead(BaseModel):
    id: str
    name: str
    trigger: str
    starts_at: datetime
    ends_at: datetime
    season: dict[str, Any] | None
    conditions: dict[str, Any]
    reward: dict[str, Any]
    caps: dict[str, int | None]
    spent_centimes: int
    stock_used: int
    grants: int
    status: str
    created_by: str
    created_at: datetime


class CampaignPage(KeysetPage[CampaignRead]):
    pass


class DryRunRead(BaseModel):
    events_considered: int
    grants: int
    customers_reached: int
    cost_centimes: int
    quantity: int
    refused: dict[str, int]
    budget_exhausted_at: datetime | None


def campaign_read(row: Any) -> CampaignRead:
    return CampaignRead(
        id=row.id,
        name=row.name,
        trigger=row.trigger,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        season=row.season,
        conditions=row.conditions,
        reward=row.reward,
        caps={
            "per_customer": row.per_customer,
            "budget_centimes": row.budget_centimes,
            "stock": row.stock,
        },
        spent_centimes=row.spent_centimes,
        stock_used=row.stock_used,
        grants=row.grants,
        status=row.status,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def invalid(errors: list[FieldError]) -> Unprocessable:
    return Unprocessable(
        f"{len(errors)} field(s) of the campaign are invalid.",
        slug="invalid-campaign",
        title="Invalid campaign",
        errors=[e.as_dict("body.") for e in errors],
    )


def period_of(body: PeriodIn) -> tuple[Period, dict[str, Any] | None]:
    if body.season is not None:
        if body.year is None:
            raise invalid([FieldError("period.year", "a season needs its year")])
        if body.starts_at is not None or body.ends_at is not None:
            raise invalid([FieldError("period.season", "a season or two instants, not both")])
        try:
            return season(body.season, body.year), {"season": body.season.value, "year": body.year}
        except UnknownSeason as exc:
            raise invalid([FieldError("period.year", str(exc))]) from exc
    missing = [
        FieldError(f"period.{name}", "required without a season")
        for name in ("starts_at", "ends_at")
        if getattr(body, name) is None
    ]
    if missing:
        raise invalid(missing)
    assert body.starts_at is not None and body.ends_at is not None
    return Period(body.starts_at, body.ends_at), None


def campaign_of(body: CampaignCreate) -> tuple[Campaign, dict[str, Any] | None]:
    period, season_ = period_of(body.period)
    r = body.reward
    reward = Reward(
        kind=r.kind,
        quantity=r.quantity,
        label="",
        unit_cost_centimes=r.unit_cost_centimes,
        speed_mbps=r.speed_mbps,
        item=r.item,
    )
    reward = Reward(**{**reward.__dict__, "label": r.label or default_label(reward)})
    c = body.conditions
    campaign = Campaign(
        campaign_id="",
        name=body.name,
        trigger=body.trigger,
        period=period,
        reward=reward,
        conditions=Conditions(
            offers=frozenset(c.offers) if c.offers is not None else None,
            wilayas=frozenset(c.wilayas) if c.wilayas is not None else None,
            tiers=frozenset(c.tiers) if c.tiers is not None else None,
            min_tenure_days=c.min_tenure_days,
            min_amount_centimes=c.min_amount_centimes,
            first_time=c.first_time,
        ),
        caps=Caps(
            per_customer=body.caps.per_customer,
            budget_centimes=body.caps.budget_centimes,
            stock=body.caps.stock,
        ),
    )
    return campaign, season_


@router.post(
    "/campaigns",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignRead,
    summary="Define a campaign (marketing; idempotent with Idempotency-Key)",
)
async def create_campaign(
    body: CampaignCreate,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    response: Response,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    ensure_agent(principal, MARKETING)
    campaign, season_ = campaign_of(body)

    try:
        created = await flows.create_campaign_once(
            runtime,
            principal,
            campaign,
            season=season_,
            key=idempotency_key,
            body=body.model_dump(mode="json"),
            render=lambda row: campaign_read(row).model_dump(mode="json"),
        )
    except InvalidCampaign as exc:
        raise invalid(exc.errors) from exc
    return created.render(response, location=f"/v1/loyalty/campaigns/{created.body['id']}")


@router.post(
    "/campaigns/dry-run",
    response_model=DryRunRead,
    summary="What a campaign would have done over the recorded events (nothing is written)",
)
async def dry_run(body: CampaignCreate, runtime: RuntimeDep, principal: CurrentPrincipal) -> Any:
    ensure_agent(principal, MARKETING)
    campaign, _ = campaign_of(body)
    async with runtime.session_factory() as session:
        try:
            result = await flows.simulate(session, campaign)
        except InvalidCampaign as exc:
            raise invalid(exc.errors) from exc
    return DryRunRead(**result.__dict__)


@router.get("/campaigns", response_model=CampaignPage, summary="Campaigns, newest first, paged")
async def list_campaigns(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    status_: Annotated[Literal["active", "paused"] | None, Query(alias="status")] = None,
    trigger: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CampaignPage:
    ensure_agent(principal, CAMPAIGN_READERS)
    query = select(campaigns)
    if status_ is not None:
        query = query.where(campaigns.c.status == status_)
    if trigger is not None:
        query = query.where(campaigns.c.trigger == trigger)
    if cursor is not None:
        created_raw, last_id = decode_cursor(cursor, size=2)
        try:
            created = datetime.fromisoformat(str(created_raw))
        except ValueError as exc:
            raise Unprocessable("The cursor is not one this API gave out.") from exc
        query = query.where(
            or_(
                campaigns.c.created_at < created,
                and_(campaigns.c.created_at == created, campaigns.c.id < str(last_id)),
            )
        )
    query = query.order_by(campaigns.c.created_at.desc(), campaigns.c.id.desc()).limit(limit + 1)
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor([last.created_at.isoformat(), last.id])
    return CampaignPage(items=[campaign_read(r) for r in page], next_cursor=next_cursor)


@router.get("/campaigns/{campaign_id}", response_model=CampaignRead, summary="One campaign")
async def get_campaign(campaign_id: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> Any:
    ensure_agent(principal, CAMPAIGN_READERS)
    async with runtime.session_factory() as session:
        return campaign_read(await flows.load_campaign(session, campaign_id))


class StatusChange(BaseModel):
    status: Literal["active", "paused"]


@router.post(
    "/campaigns/{campaign_id}/status",
    response_model=CampaignRead,
    summary="Pause or resume a campaign (marketing)",
)
async def change_status(
    campaign_id: str, body: StatusChange, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Any:
    ensure_agent(principal, MARKETING)
    return campaign_read(await flows.change_status(runtime, campaign_id, body.status))


class DrawCreate(BaseModel):
    winners: int = Field(ge=1, le=10_000)
    prize_label: str = Field(min_length=3, max_length=200, examples=["un modem Wi-Fi"])
    prize_item: str = Field(min_length=2, max_length=50, examples=["modem"])


class DrawRead(BaseModel):
    id: str
    campaign_id: str
    seed: str
    entrants: list[str]
    winners_count: int
    winners: list[str]
    prize: dict[str, str]
    drawn_by: str
    drawn_at: datetime


class DrawVerification(BaseModel):
    draw_id: str
    seed: str
    entrants: int
    recorded_winners: list[str]
    rerun_winners: list[str]
    identical: bool


def draw_read(row: Any) -> DrawRead:
    return DrawRead(
        id=row.id,
        campaign_id=row.campaign_id,
        seed=row.seed,
        entrants=list(row.entrants),
        winners_count=row.winners_count,
        winners=list(row.winners),
        prize=dict(row.prize),
        drawn_by=row.drawn_by,
        drawn_at=row.drawn_at,
    )


@router.post(
    "/campaigns/{campaign_id}/draws",
    status_code=status.HTTP_201_CREATED,
    response_model=DrawRead,
    summary="Draw winners among the campaign's eligible customers (marketing; Idempotency-Key)",
)
async def hold_draw(
    campaign_id: str,
    body: DrawCreate,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    response: Response,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    ensure_agent(principal, MARKETING)

    drawn = await draw_flows.hold_draw_once(
        runtime,
        principal,
        campaign_id=campaign_id,
        winners=body.winners,
        prize_label=body.prize_label,
        prize_item=body.prize_item,
        key=idempotency_key,
        body={"campaign_id": campaign_id, **body.model_dump(mode="json")},
        render=lambda row: DrawRead(**row).model_dump(mode="json"),
    )
    response.status_code = drawn.status
    if drawn.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return drawn.body


@router.get("/draws/{draw_id}", response_model=DrawRead, summary="A draw, its seed and entrants")
async def get_draw(draw_id: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> Any:
    ensure_agent(principal, CAMPAIGN_READERS)
    async with runtime.session_factory() as session:
        return draw_read(await draw_flows.load_draw(session, draw_id))


@router.post(
    "/draws/{draw_id}/verification",
    response_model=DrawVerification,
    summary="Re-run a draw from its recorded seed and entrants (audit)",
)
async def verify_draw(draw_id: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> Any:
    ensure_agent(principal, AUDIT)
    async with runtime.session_factory() as session:
        row = await draw_flows.load_draw(session, draw_id)
    rerun = draw_flows.rerun(row)
    return DrawVerification(
        draw_id=row.id,
        seed=row.seed,
        entrants=len(row.entrants),
        recorded_winners=list(row.winners),
        rerun_winners=rerun,
        identical=rerun == list(row.winners),
    )
