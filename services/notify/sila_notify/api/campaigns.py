"""Campaign sends: a marketing message to a segment, with its progress."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select

from sila_common.auth import Principal, require_roles
from sila_common.geography import reference as geography
from sila_common.inputs import Name
from sila_common.problems import NotFound
from sila_common.roles import CAMPAIGNS
from sila_notify.api.deps import NotifySettingsDep, RuntimeDep
from sila_notify.flows import campaigns as flows
from sila_notify.flows.campaigns import MAX_RATE_PER_SECOND, MIN_RATE_PER_SECOND
from sila_notify.tables import campaign_sends, messages

router = APIRouter(prefix="/v1/campaign-sends", tags=["campaigns"])

Marketers = Annotated[Principal, Depends(require_roles(*CAMPAIGNS))]


class Segment(BaseModel):
    wilaya_codes: list[Annotated[str, Field(pattern=r"^[0-9]{2}$")]] | None = Field(
        default=None, max_length=69
    )
    languages: list[Literal["fr", "ar", "en"]] | None = None

    @field_validator("wilaya_codes")
    @classmethod
    def _known(cls, codes: list[str] | None) -> list[str] | None:
        # The wilayas are the geography reference's (69 since the 2025 reform), not a list.
        unknown = sorted(set(codes or ()) - geography().wilayas.keys())
        if unknown:
            raise ValueError(f"no wilaya has the codes {', '.join(unknown)}")
        return codes


class CampaignWrite(BaseModel):
    name: Name = Field(min_length=3, max_length=200)
    template: str = Field(default="campaign.offer", max_length=200)
    channel: Literal["sms", "email", "push", "in_app"] = "sms"
    segment: Segment = Field(default_factory=Segment)
    variables: dict[str, Any] = Field(default_factory=dict)
    # At least one message a minute (a slower campaign never ends), at most what the SMS
    # centre takes.
    rate_per_second: float | None = Field(
        default=None, ge=MIN_RATE_PER_SECOND, le=MAX_RATE_PER_SECOND, allow_inf_nan=False
    )


class CampaignRead(BaseModel):
    id: str
    name: str
    template: str
    channel: str
    segment: dict[str, Any]
    state: str
    rate_per_second: float
    targeted: int
    skipped: int
    messages: dict[str, int]
    created_at: datetime
    planned_at: datetime | None


async def _read(session: Any, campaign_id: str) -> CampaignRead:
    row = (
        await session.execute(select(campaign_sends).where(campaign_sends.c.id == campaign_id))
    ).one_or_none()
    if row is None:
        raise NotFound(f"No campaign send {campaign_id}.")
    counts = (
        await session.execute(
            select(messages.c.state, func.count())
            .where(messages.c.campaign_id == campaign_id)
            .group_by(messages.c.state)
        )
    ).all()
    states = {"queued": 0, "sending": 0, "sent": 0, "delivered": 0, "failed": 0}
    states.update({str(state): int(count) for state, count in counts})
    return CampaignRead(
        id=row.id,
        name=row.name,
        template=row.event_type,
        channel=row.channel,
        segment=dict(row.segment),
        state=row.state,
        rate_per_second=row.rate_per_second,
        targeted=row.targeted,
        skipped=row.skipped,
        messages=states,
        created_at=row.created_at or datetime.now(UTC),
        planned_at=row.planned_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignRead,
    summary="Send a marketing message to a segment (consenting customers only)",
)
async def create_campaign(
    body: CampaignWrite, runtime: RuntimeDep, settings: NotifySettingsDep, principal: Marketers
) -> CampaignRead:
    campaign_id = await flows.start_campaign(
        runtime,
        name=body.name,
        template=body.template,
        channel=body.channel,
        segment=body.segment.model_dump(exclude_none=True),
        variables=body.variables,
        rate_per_second=body.rate_per_second or settings.campaign_rate_per_second,
        created_by=f"{principal.kind}:{principal.subject}"[:100],
    )
    async with runtime.session_factory() as session:
        return await _read(session, campaign_id)


@router.get("/{campaign_id}", response_model=CampaignRead, summary="A campaign's progress")
async def get_campaign(campaign_id: str, runtime: RuntimeDep, principal: Marketers) -> CampaignRead:
    async with runtime.session_factory() as session:
        return await _read(session, campaign_id)


@router.post(
    "/{campaign_id}/cancel", response_model=CampaignRead, summary="Stop what is not sent yet"
)
async def cancel_campaign(
    campaign_id: str, runtime: RuntimeDep, principal: Marketers
) -> CampaignRead:
    await flows.cancel_campaign(runtime, campaign_id)
    async with runtime.session_factory() as session:
        return await _read(session, campaign_id)
