"""Templates and routes: a new version of a template saved (numbered per event, variant,
language and channel), an event's route set.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from sila_common.problems import Conflict
from sila_notify.runtime import NotifyRuntime
from sila_notify.tables import event_routes, templates
from sila_notify.template_store import next_version


async def save_template(
    runtime: NotifyRuntime,
    *,
    event_type: str,
    variant: str,
    language: str,
    channel: str,
    subject: str | None,
    body: str,
    variables: dict[str, Any],
    created_by: str,
) -> dict[str, Any]:
    """The next version of the template (its variables already checked); returns its row."""
    try:
        async with runtime.session_factory() as session, session.begin():
            version = await next_version(
                session,
                event_type=event_type,
                variant=variant,
                language=language,
                channel=channel,
            )
            row = {
                "id": str(uuid.uuid4()),
                "event_type": event_type,
                "variant": variant,
                "language": language,
                "channel": channel,
                "version": version,
                "subject": subject,
                "body": body,
                "variables": variables,
                "created_by": created_by,
                "created_at": datetime.now(UTC),
            }
            await session.execute(pg_insert(templates).values(**row))
    except IntegrityError as race:
        raise Conflict("Another version was saved at the same moment; try again.") from race
    return row


async def put_route(runtime: NotifyRuntime, event_type: str, route: dict[str, Any]) -> Any:
    """Make an event speak (or not): its lane, channels, condition; returns the route's row."""
    values = {**route, "updated_at": datetime.now(UTC)}
    async with runtime.session_factory() as session, session.begin():
        stmt = pg_insert(event_routes).values(event_type=event_type, **values)
        await session.execute(
            stmt.on_conflict_do_update(index_elements=["event_type"], set_=values)
        )
        return (
            await session.execute(
                select(event_routes).where(event_routes.c.event_type == event_type)
            )
        ).one()
