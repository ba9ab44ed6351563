"""A customer's notification preferences: channel order, consent per purpose, devices."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import CurrentPrincipal, Principal
from sila_notify.api.deps import WRITERS, NotifySettingsDep, RuntimeDep, customer_in_scope
from sila_notify.domain.quiet_hours import QuietHoursWindow
from sila_notify.flows import preferences as flows
from sila_notify.tables import consents, push_tokens

router = APIRouter(prefix="/v1/notification-preferences", tags=["preferences"])

ChannelName = Literal["sms", "email", "push", "in_app"]
ConsentChannel = Literal["sms", "email", "push", "in_app", "any"]


class ConsentRead(BaseModel):
    purpose: Literal["service", "marketing"]
    channel: ConsentChannel
    granted: bool
    captured_via: str | None
    updated_at: datetime | None


class QuietHours(BaseModel):
    start: str
    end: str
    zone: str


class PreferencesRead(BaseModel):
    customer_id: str
    language: str
    channel_order: list[str]
    consents: list[ConsentRead]
    reachable: dict[str, bool]
    devices: int
    quiet_hours: QuietHours
    notes: list[str]


class ConsentWrite(BaseModel):
    purpose: Literal["service", "marketing"]
    channel: ConsentChannel
    granted: bool


class PreferencesWrite(BaseModel):
    channel_order: list[ChannelName] | None = Field(default=None, min_length=1, max_length=4)
    consents: list[ConsentWrite] = Field(default_factory=list, max_length=20)

    @field_validator("channel_order")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("each channel appears once")
        return value


class PushTokenWrite(BaseModel):
    token: str = Field(min_length=8, max_length=400, pattern=r"^[A-Za-z0-9_:\-\.]+$")
    platform: Literal["android", "ios", "web"]


NOTES = [
    "One-time codes always go by SMS: they answer the customer's own request.",
    "Service messages go unless refused; marketing only with consent.",
    "Non-urgent messages wait for the end of quiet hours; outage notices do not.",
]


async def _read(session: AsyncSession, recipient: Any, window: QuietHoursWindow) -> PreferencesRead:
    rows = (
        await session.execute(
            select(consents)
            .where(consents.c.customer_id == recipient.customer_id)
            .order_by(consents.c.purpose, consents.c.channel)
        )
    ).all()
    devices = len(
        (
            await session.execute(
                select(push_tokens.c.token).where(
                    push_tokens.c.customer_id == recipient.customer_id
                )
            )
        ).all()
    )
    return PreferencesRead(
        customer_id=recipient.customer_id,
        language=recipient.language,
        channel_order=list(recipient.channel_order),
        consents=[
            ConsentRead(
                purpose=row.purpose,
                channel=row.channel,
                granted=row.granted,
                captured_via=row.captured_via,
                updated_at=row.updated_at,
            )
            for row in rows
        ],
        reachable={
            "sms": bool(recipient.phone),
            "email": bool(recipient.email),
            "push": devices > 0,
            "in_app": True,
        },
        devices=devices,
        quiet_hours=QuietHours(
            start=window.start.strftime("%H:%M"),
            end=window.end.strftime("%H:%M"),
            zone=str(window.zone),
        ),
        notes=NOTES,
    )


def _captured_via(principal: Principal) -> str:
    return "my_idoom" if principal.kind == "customer" else f"agent:{principal.subject}"[:50]


@router.get("/{customer_id}", response_model=PreferencesRead, summary="A customer's preferences")
async def get_preferences(
    customer_id: str, runtime: RuntimeDep, settings: NotifySettingsDep, principal: CurrentPrincipal
) -> PreferencesRead:
    async with runtime.session_factory() as session:
        recipient = await customer_in_scope(session, runtime, principal, customer_id)
        return await _read(session, recipient, settings.quiet_window())


@router.put(
    "/{customer_id}", response_model=PreferencesRead, summary="Set channel order and consents"
)
async def put_preferences(
    customer_id: str,
    body: PreferencesWrite,
    runtime: RuntimeDep,
    settings: NotifySettingsDep,
    principal: CurrentPrincipal,
) -> PreferencesRead:
    await flows.set_preferences(
        runtime,
        customer_id,
        channel_order=list(body.channel_order) if body.channel_order is not None else None,
        consents=[(c.purpose, c.channel, c.granted) for c in body.consents],
        captured_via=_captured_via(principal),
        scope=lambda session, customer: customer_in_scope(
            session, runtime, principal, customer, roles=WRITERS
        ),
    )
    async with runtime.session_factory() as session:
        recipient = await customer_in_scope(session, runtime, principal, customer_id, roles=WRITERS)
        return await _read(session, recipient, settings.quiet_window())


@router.post(
    "/{customer_id}/push-tokens",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Register a device of the customer for push messages",
)
async def add_push_token(
    customer_id: str, body: PushTokenWrite, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Response:
    await flows.add_push_token(
        runtime,
        customer_id,
        body.token,
        body.platform,
        scope=lambda session, customer: customer_in_scope(
            session, runtime, principal, customer, roles=WRITERS
        ),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/{customer_id}/push-tokens/{token}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Forget a device",
)
async def delete_push_token(
    customer_id: str, token: str, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Response:
    await flows.delete_push_token(
        runtime,
        customer_id,
        token,
        scope=lambda session, customer: customer_in_scope(
            session, runtime, principal, customer, roles=WRITERS
        ),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
