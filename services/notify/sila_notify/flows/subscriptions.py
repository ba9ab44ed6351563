"""Partners' webhook subscriptions: subscribed, changed, rotated, replayed, removed (the
deliveries themselves are ``webhooks``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update

from sila_common.auth import Principal
from sila_common.db import rows_affected
from sila_common.problems import Conflict, NotFound, Unprocessable
from sila_notify.domain.webhook_signature import generate_secret
from sila_notify.runtime import NotifyRuntime
from sila_notify.tables import webhook_attempts, webhook_deliveries, webhook_subscriptions


def owner_of(principal: Principal) -> str:
    return f"{principal.kind}:{principal.subject}"[:150]


def is_admin(principal: Principal) -> bool:
    return principal.is_admin


def owner_scopes(principal: Principal) -> list[str]:
    """What bounds a partner's subscription: the scopes of the token that saved it."""
    return sorted(principal.scopes) if principal.kind == "partner" else []


async def visible_subscription(session: Any, principal: Principal, subscription_id: str) -> Any:
    row = (
        await session.execute(
            select(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
        )
    ).one_or_none()
    if row is None or not (is_admin(principal) or row.owner == owner_of(principal)):
        raise NotFound(f"No webhook subscription {subscription_id}.")
    return row


def _refuse_for_hub_listener(row: Any, changes: set[str]) -> None:
    if row.kind == "tmf621" and changes:
        raise Conflict(
            "This is a TMF621 hub listener: change or remove it through "
            "/tmf-api/troubleTicket/v4/hub (only its state can be changed here).",
            slug="tmf-hub-listener",
            title="Managed by the TMF621 hub",
        )


async def create_subscription(runtime: NotifyRuntime, row: dict[str, Any]) -> None:
    async with runtime.session_factory() as session, session.begin():
        await session.execute(webhook_subscriptions.insert().values(**row))


async def update_subscription(
    runtime: NotifyRuntime, principal: Principal, subscription_id: str, changes: dict[str, Any]
) -> Any:
    async with runtime.session_factory() as session, session.begin():
        current = await visible_subscription(session, principal, subscription_id)
        _refuse_for_hub_listener(current, set(changes) - {"state", "disabled_reason"})
        if current.owner == owner_of(principal) and principal.kind == "partner":
            # Saved again by its partner: bounded by the scopes it holds now.
            changes = {**changes, "owner_scopes": owner_scopes(principal)}
        if changes:
            await session.execute(
                update(webhook_subscriptions)
                .where(webhook_subscriptions.c.id == subscription_id)
                .values(**changes, updated_at=datetime.now(UTC))
            )
        return await visible_subscription(session, principal, subscription_id)


async def delete_subscription(
    runtime: NotifyRuntime, principal: Principal, subscription_id: str
) -> None:
    async with runtime.session_factory() as session, session.begin():
        _refuse_for_hub_listener(
            await visible_subscription(session, principal, subscription_id), {"delete"}
        )
        ids = select(webhook_deliveries.c.id).where(
            webhook_deliveries.c.subscription_id == subscription_id
        )
        await session.execute(
            delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ids))
        )
        await session.execute(
            delete(webhook_deliveries).where(
                webhook_deliveries.c.subscription_id == subscription_id
            )
        )
        await session.execute(
            delete(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
        )


async def rotate_secret(
    runtime: NotifyRuntime,
    principal: Principal,
    subscription_id: str,
    *,
    now: datetime,
    expires: datetime,
) -> str:
    """A new secret; the old one keeps signing until ``expires``."""
    secret = generate_secret()
    async with runtime.session_factory() as session, session.begin():
        row = await visible_subscription(session, principal, subscription_id)
        await session.execute(
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.id == subscription_id)
            .values(
                secret=secret,
                previous_secret=row.secret,
                previous_secret_expires_at=expires,
                updated_at=now,
            )
        )
    return secret


async def replay_delivery(
    runtime: NotifyRuntime, principal: Principal, subscription_id: str, delivery_id: str
) -> None:
    async with runtime.session_factory() as session, session.begin():
        subscription = await visible_subscription(session, principal, subscription_id)
        if subscription.state != "active":
            raise Unprocessable(
                "Enable the subscription again before replaying its deliveries.",
                slug="webhook-disabled",
                title="Subscription disabled",
            )
        result = await session.execute(
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.subscription_id == subscription_id,
            )
            .values(
                state="pending",
                attempts=0,
                next_attempt_at=datetime.now(UTC),
                completed_at=None,
            )
        )
        if not rows_affected(result):
            raise NotFound(f"No delivery {delivery_id} for this subscription.")
