"""The customer timeline (the 360° view): newest first, filtered, keyset-paged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel
from sqlalchemy import select, tuple_

from sila_common.auth import Principal
from sila_common.db import as_utc
from sila_common.pagination import KeysetPage, decode_cursor, encode_cursor
from sila_common.problems import Forbidden, Unprocessable
from sila_identity.api.deps import Caller, RuntimeDep
from sila_identity.directory import ensure_may_read, load_row
from sila_identity.flows import audit
from sila_identity.tables import timeline_entries
from sila_identity.timeline.summaries import summarise

router = APIRouter(prefix="/v1/customers", tags=["timeline"])


class TimelineEntry(BaseModel):
    event_id: str
    occurred_at: datetime
    type: str
    service: str
    channel: str | None
    summary: str
    resource: str | None
    data: dict[str, Any]


class TimelinePage(KeysetPage[TimelineEntry]):
    pass


@router.get("/{customer_id}/timeline", response_model=TimelinePage, summary="The timeline")
async def timeline(
    customer_id: str,
    runtime: RuntimeDep,
    principal: Caller,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    type: Annotated[list[str] | None, Query(description="event types")] = None,
    service: Annotated[list[str] | None, Query()] = None,
    channel: Annotated[list[str] | None, Query()] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    lang: Literal["fr", "ar", "en"] | None = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> TimelinePage:
    ensure_may_read_timeline_kind(principal)
    async with runtime.session_factory() as session:
        customer = await load_row(session, customer_id)
    if principal.kind != "partner":
        ensure_may_read(principal, customer)
    language = lang or _language(accept_language) or customer.language
    t = timeline_entries.c
    query = select(timeline_entries).where(t.customer_id == customer_id)
    if type:
        query = query.where(t.event_type.in_(type))
    if service:
        query = query.where(t.source_service.in_(service))
    if channel:
        query = query.where(t.channel.in_(channel))
    if since:
        query = query.where(t.occurred_at >= as_utc(since).astimezone(UTC))
    if until:
        query = query.where(t.occurred_at < as_utc(until).astimezone(UTC))
    if cursor:
        occurred, event_id = decode_cursor(cursor, size=2)
        try:
            boundary = datetime.fromisoformat(str(occurred))
        except ValueError as exc:
            raise Unprocessable("The cursor is not one this API gave out.") from exc
        boundary, event_id = as_utc(boundary).astimezone(UTC), str(event_id)
        # A row comparison, so the index range starts at the cursor instead of filtering.
        query = query.where(tuple_(t.occurred_at, t.event_id) < tuple_(boundary, event_id))
    query = query.order_by(t.occurred_at.desc(), t.event_id.desc()).limit(limit + 1)
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    items = [
        TimelineEntry(
            event_id=row.event_id,
            occurred_at=row.occurred_at,
            type=row.event_type,
            service=row.source_service,
            channel=row.channel,
            summary=summarise(row.event_type, row.data, language),
            resource=row.resource,
            data=row.data,
        )
        for row in rows[:limit]
    ]
    await audit.record_reads(runtime.session_factory, principal, "timeline.read", [customer_id])
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.occurred_at.isoformat(), last.event_id])
    return TimelinePage(items=items, next_cursor=next_cursor)


def ensure_may_read_timeline_kind(principal: Principal) -> None:
    """Partners read timelines only with the timeline:read scope (then any customer's)."""
    if principal.kind == "partner" and "timeline:read" not in principal.scopes:
        raise Forbidden("This needs the scope timeline:read.")


def _language(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in ("fr", "ar", "en"):
            return code
    return None
