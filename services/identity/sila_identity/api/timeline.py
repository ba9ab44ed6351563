"""The customer timeline (the 360° view): newest first, filtered, keyset-paged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel
from pydantic_core import to_json
from sqlalchemy import select

from sila_common.auth import Principal, ensure_scope
from sila_common.db import as_utc, newest_first
from sila_common.inputs import Instant, decode_time_cursor
from sila_common.pagination import KeysetPage, next_time_cursor
from sila_identity.api.deps import Caller, RuntimeDep
from sila_identity.directory import ensure_may_read
from sila_identity.flows import timeline as flows
from sila_identity.flows.geography import current_map
from sila_identity.tables import timeline_entries
from sila_identity.timeline.projection import customer_facing
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
    since: Instant | None = None,
    until: Instant | None = None,
    lang: Literal["fr", "ar", "en"] | None = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    ensure_may_read_timeline_kind(principal)
    t = timeline_entries.c
    query = select(timeline_entries).where(t.customer_id == customer_id)
    if principal.kind != "agent":
        query = query.where(customer_facing())
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
    after = decode_time_cursor(cursor) if cursor else None
    query = newest_first(query, t.occurred_at, t.event_id, after=after, limit=limit)
    # The customer, the page and the audit row of the read: one transaction.
    customer, rows = await flows.read_page(
        runtime,
        principal,
        customer_id,
        query,
        authorise=lambda row: _may_read(principal, row),
    )
    language = lang or _language(accept_language) or customer.language
    places = await current_map(runtime)
    # Rendered here, once, by pydantic's serializer from plain dicts of TimelineEntry's
    # fields (same JSON as the models'): the rows come from our own table, and validating 50
    # entries then the page (first pass), then building 50 models without validation
    # (second), were each the largest part of a timeline read's CPU (py-spy,
    # docs/benchmarks.md). The response model still documents it.
    items = [
        {
            "event_id": row.event_id,
            "occurred_at": row.occurred_at,
            "type": row.event_type,
            "service": row.source_service,
            "channel": row.channel,
            "summary": summarise(row.event_type, row.data, language, places),
            "resource": row.resource,
            "data": row.data,
        }
        for row in rows[:limit]
    ]
    next_cursor = next_time_cursor(rows, limit, "occurred_at", "event_id")
    return Response(
        to_json({"items": items, "next_cursor": next_cursor}), media_type="application/json"
    )


def _may_read(principal: Principal, customer: Any) -> None:
    if principal.kind != "partner":
        ensure_may_read(principal, customer)


def ensure_may_read_timeline_kind(principal: Principal) -> None:
    """Partners read timelines only with the timeline:read scope (then any customer's)."""
    if principal.kind == "partner":
        ensure_scope(principal, "timeline:read")


def _language(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in ("fr", "ar", "en"):
            return code
    return None
