"""Partners' webhook subscriptions: CRUD, secret rotation, delivery log and replay.

Partners hold the ``webhooks:manage`` scope and see only their own subscriptions (another
partner's is a 404); administrators see and manage all of them. TMF621 hub listeners (kind
``tmf621``) are listed too, with their delivery log; tickets' ``/hub`` owns their URL and
event types, so here they can only be enabled again, replayed, or given a signing secret.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field, HttpUrl, field_validator
from sqlalchemy import select

from sila_common.auth import Principal, require_scope
from sila_common.db import newest_first
from sila_common.destinations import check_destination
from sila_common.inputs import decode_time_cursor
from sila_common.pagination import KeysetPage, next_time_cursor
from sila_common.problems import Unprocessable
from sila_notify.api.deps import NotifySettingsDep, RuntimeDep
from sila_notify.domain.webhook_policy import (
    NEVER_DELIVERED,
    DestinationRefused,
    partner_may_subscribe,
)
from sila_notify.domain.webhook_signature import generate_secret
from sila_notify.flows import subscriptions as flows
from sila_notify.flows.subscriptions import (
    is_admin,
    owner_of,
    owner_scopes,
    visible_subscription,
)
from sila_notify.tables import webhook_attempts, webhook_deliveries, webhook_subscriptions

router = APIRouter(prefix="/v1/webhook-subscriptions", tags=["webhooks"])

MANAGE_SCOPE = "webhooks:manage"
PATTERN = r"^(\*|[a-z_]+\.\*|[a-z_]+\.[a-z_]+\.[a-z_]+)$"


# Partners with webhooks:manage (their own subscriptions), or administrators (all).
Manager = Annotated[Principal, Depends(require_scope(MANAGE_SCOPE, or_admin=True))]


def ensure_receivable(principal: Principal, event_types: list[str]) -> None:
    """A partner naming an exact type it can never receive is told so (422); patterns such
    as ``*`` are accepted and bounded at delivery by the partner's scopes."""
    if principal.kind != "partner":
        return
    refused = [
        t for t in event_types if "*" not in t and not partner_may_subscribe(t, principal.scopes)
    ]
    if refused:
        reason = (
            f"{', '.join(refused)}: internal, or not allowed by your scopes "
            f"({' '.join(sorted(principal.scopes))})"
        )
        raise Unprocessable(
            f"Not delivered to you: {reason}.",
            slug="event-type-not-allowed",
            errors=[{"field": "body.event_types", "message": reason, "type": "scope"}],
        )


def _types(value: list[str]) -> list[str]:
    refused = [t for t in value if t in NEVER_DELIVERED]
    if refused:
        raise ValueError(f"{', '.join(refused)} is never delivered to partners")
    return list(dict.fromkeys(value))


class SubscriptionWrite(BaseModel):
    url: HttpUrl
    event_types: list[Annotated[str, Field(pattern=PATTERN, max_length=200)]] = Field(
        min_length=1, max_length=50
    )
    description: str | None = Field(default=None, max_length=200)

    _check_types = field_validator("event_types")(_types)


class SubscriptionUpdate(BaseModel):
    url: HttpUrl | None = None
    event_types: list[Annotated[str, Field(pattern=PATTERN, max_length=200)]] | None = Field(
        default=None, min_length=1, max_length=50
    )
    description: str | None = Field(default=None, max_length=200)
    state: Literal["active", "disabled"] | None = None

    @field_validator("event_types")
    @classmethod
    def _check(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _types(value)


class SubscriptionRead(BaseModel):
    id: str
    kind: Literal["webhook", "tmf621"] = "webhook"
    owner: str
    reach: Literal["own", "all"] | None = Field(
        default=None, description="TMF621 listeners: the partner's own tickets, or all."
    )
    url: str
    event_types: list[str]
    owner_scopes: list[str] | None = Field(
        default=None,
        description="A partner's: the scopes that bound what it receives (those of the token "
        "that last saved it).",
    )
    description: str | None
    state: str
    disabled_reason: str | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(description="Shown once: keep it to verify the signatures.")


class SecretRotated(BaseModel):
    secret: str
    previous_secret_expires_at: datetime


class DeliveryRead(BaseModel):
    id: str
    event_id: str
    event_type: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None
    attempt_log: list[dict[str, Any]]


class DeliveryPage(KeysetPage[DeliveryRead]):
    pass


def to_read(row: Any) -> SubscriptionRead:
    return SubscriptionRead(
        id=row.id,
        kind=row.kind,
        owner=row.owner,
        reach=row.reach,
        url=row.url,
        event_types=list(row.event_types),
        owner_scopes=None if row.owner_scopes is None else list(row.owner_scopes),
        description=row.description,
        state=row.state,
        disabled_reason=row.disabled_reason,
        previous_secret_expires_at=row.previous_secret_expires_at,
        created_at=row.created_at or datetime.now(UTC),
        updated_at=row.updated_at or datetime.now(UTC),
    )


async def _check_url(url: str, runtime: Any) -> None:
    try:
        await check_destination(url, runtime.platform.profile)
    except DestinationRefused as refused:
        raise Unprocessable(
            f"Webhooks cannot be sent to {url}: {refused}.",
            slug="webhook-destination-refused",
            title="Destination refused",
            errors=[{"field": "body.url", "message": str(refused), "type": "destination"}],
        ) from refused


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionCreated,
    summary="Subscribe an endpoint to events (the secret is shown once)",
)
async def create_subscription(
    body: SubscriptionWrite, runtime: RuntimeDep, principal: Manager
) -> SubscriptionCreated:
    url = str(body.url)
    ensure_receivable(principal, body.event_types)
    await _check_url(url, runtime)
    now = datetime.now(UTC)
    row = {
        "id": str(uuid.uuid4()),
        "owner": owner_of(principal),
        "owner_scopes": owner_scopes(principal),
        "url": url,
        "event_types": body.event_types,
        "description": body.description,
        "secret": generate_secret(),
        "previous_secret": None,
        "previous_secret_expires_at": None,
        "state": "active",
        "disabled_reason": None,
        "created_at": now,
        "updated_at": now,
    }
    await flows.create_subscription(runtime, row)
    return SubscriptionCreated(**{k: v for k, v in row.items() if k != "previous_secret"})


@router.get("", response_model=list[SubscriptionRead], summary="Your webhook subscriptions")
async def list_subscriptions(runtime: RuntimeDep, principal: Manager) -> list[SubscriptionRead]:
    query = select(webhook_subscriptions).order_by(webhook_subscriptions.c.created_at)
    if not is_admin(principal):
        query = query.where(webhook_subscriptions.c.owner == owner_of(principal))
    async with runtime.session_factory() as session:
        rows = (await session.execute(query.limit(500))).all()
    return [to_read(r) for r in rows]


@router.get("/{subscription_id}", response_model=SubscriptionRead, summary="One subscription")
async def get_subscription(
    subscription_id: str, runtime: RuntimeDep, principal: Manager
) -> SubscriptionRead:
    async with runtime.session_factory() as session:
        return to_read(await visible_subscription(session, principal, subscription_id))


@router.patch(
    "/{subscription_id}",
    response_model=SubscriptionRead,
    summary="Change the URL or event types, or enable a disabled endpoint again",
)
async def update_subscription(
    subscription_id: str, body: SubscriptionUpdate, runtime: RuntimeDep, principal: Manager
) -> SubscriptionRead:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude_none=True)
    if "event_types" in changes:
        ensure_receivable(principal, changes["event_types"])
    if "url" in changes:
        changes["url"] = str(body.url)
        await _check_url(changes["url"], runtime)
    if changes.get("state") == "active":
        changes["disabled_reason"] = None
    row = await flows.update_subscription(runtime, principal, subscription_id, changes)
    return to_read(row)


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Unsubscribe")
async def delete_subscription(
    subscription_id: str, runtime: RuntimeDep, principal: Manager
) -> Response:
    await flows.delete_subscription(runtime, principal, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{subscription_id}/rotate-secret",
    response_model=SecretRotated,
    summary="A new secret; the old one keeps signing alongside it for a while",
)
async def rotate_secret(
    subscription_id: str, runtime: RuntimeDep, settings: NotifySettingsDep, principal: Manager
) -> SecretRotated:
    now = datetime.now(UTC)
    expires = now + timedelta(hours=settings.webhook_secret_overlap_hours)
    secret = await flows.rotate_secret(
        runtime, principal, subscription_id, now=now, expires=expires
    )
    return SecretRotated(secret=secret, previous_secret_expires_at=expires)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=DeliveryPage,
    summary="The delivery log, newest first",
)
async def list_deliveries(
    subscription_id: str,
    runtime: RuntimeDep,
    principal: Manager,
    state: Literal["pending", "succeeded", "failed"] | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DeliveryPage:
    async with runtime.session_factory() as session:
        await visible_subscription(session, principal, subscription_id)
        query = select(webhook_deliveries).where(
            webhook_deliveries.c.subscription_id == subscription_id
        )
        if state:
            query = query.where(webhook_deliveries.c.state == state)
        query = newest_first(
            query,
            webhook_deliveries.c.created_at,
            webhook_deliveries.c.id,
            after=decode_time_cursor(cursor) if cursor else None,
            limit=limit,
        )
        rows = (await session.execute(query)).all()
        page = rows[:limit]
        attempts = (
            await session.execute(
                select(webhook_attempts)
                .where(webhook_attempts.c.delivery_id.in_([r.id for r in page]))
                .order_by(webhook_attempts.c.id)
            )
        ).all()
    log: dict[str, list[dict[str, Any]]] = {}
    for attempt in attempts:
        log.setdefault(attempt.delivery_id, []).append(
            {
                "attempted_at": (attempt.attempted_at or datetime.now(UTC)).isoformat(),
                "status_code": attempt.status_code,
                "error": attempt.error,
                "duration_ms": attempt.duration_ms,
            }
        )
    items = [
        DeliveryRead(
            id=r.id,
            event_id=r.event_id,
            event_type=r.event_type,
            state="pending" if r.state == "pending" else r.state,
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at if r.state == "pending" else None,
            last_status_code=r.last_status_code,
            last_error=r.last_error,
            created_at=r.created_at or datetime.now(UTC),
            completed_at=r.completed_at,
            attempt_log=log.get(r.id, []),
        )
        for r in page
    ]
    next_cursor = next_time_cursor(rows, limit, "created_at")
    return DeliveryPage(items=items, next_cursor=next_cursor)


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a delivery again (same webhook-id: the partner can tell it is a repeat)",
)
async def replay_delivery(
    subscription_id: str, delivery_id: str, runtime: RuntimeDep, principal: Manager
) -> dict[str, str]:
    await flows.replay_delivery(runtime, principal, subscription_id, delivery_id)
    return {"id": delivery_id, "state": "pending"}
