"""The customer timeline (the 360° view): newest first, filtered, keyset-paged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NoReturn

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel
from pydantic_core import to_json
from starlette.datastructures import QueryParams

from sila_common.auth import Principal, ensure_scope
from sila_common.db import as_utc
from sila_common.direct import DirectRoute
from sila_common.inputs import Instant, decode_time_cursor
from sila_common.pagination import KeysetPage, next_time_cursor
from sila_common.problems import NotFound
from sila_common.roles import CUSTOMER_CARE
from sila_identity.api.deps import Caller, RuntimeDep, active_caller, get_identity_runtime
from sila_identity.directory import ensure_may_read, ensure_reads_customers
from sila_identity.flows import timeline as flows
from sila_identity.flows.geography import current_map
from sila_identity.queries import RecordRow
from sila_identity.timeline.summaries import summarise

router = APIRouter(prefix="/v1/customers", tags=["timeline"])
PAGE_LIMIT = 200


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


async def timeline(
    customer_id: str,
    runtime: RuntimeDep,
    principal: Caller,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 50,
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
    filters = flows.PageFilters(
        limit=limit,
        after=decode_time_cursor(cursor) if cursor else None,
        since=as_utc(since).astimezone(UTC) if since else None,
        until=as_utc(until).astimezone(UTC) if until else None,
        types=type,
        services=service,
        channels=channel,
    )
    # The customer, the page and the audit row of the read: one statement.
    scope = readable_wilayas(principal, customer_id)
    read = await flows.read_page(runtime, principal, customer_id, filters, readable_in=scope)
    if read.customer is None:
        raise NotFound(f"No customer {customer_id}.")
    if not read.in_scope:
        _refuse(principal, RecordRow(read.customer))
    language = lang or _language(accept_language) or read.customer["language"]
    places = await current_map(runtime)
    # Rendered here, once, by pydantic's serializer from plain dicts of TimelineEntry's
    # fields (same JSON as the models'): the rows come from our own table, and validating 50
    # entries then the page (first pass), then building 50 models without validation
    # (second), were each the largest part of a timeline read's CPU (py-spy,
    # docs/benchmarks.md). The response model still documents it.
    entries = read.entries
    items = [
        {
            "event_id": entry["event_id"],
            "occurred_at": entry["occurred_at"],
            "type": entry["event_type"],
            "service": entry["source_service"],
            "channel": entry["channel"],
            "summary": summarise(entry["event_type"], entry["data"], language, places),
            "resource": entry["resource"],
            "data": entry["data"],
        }
        for entry in entries[:limit]
    ]
    next_cursor = next_time_cursor(
        [RecordRow(entry) for entry in entries], limit, "occurred_at", "event_id"
    )
    return Response(
        to_json({"items": items, "next_cursor": next_cursor}), media_type="application/json"
    )


class TimelinePageRoute(DirectRoute):
    """``GET /v1/customers/{id}/timeline`` with no query, or only a ``cursor`` and a
    ``limit`` (in its plain spelling, within its bounds), each once: the first page and the
    next ones, given their arguments directly (the runtime, the caller through the same
    dependency, the ``Accept-Language`` header, the query as FastAPI would pass it)."""

    async def direct_arguments(self, request: Request) -> dict[str, Any] | None:
        query = _plain_page_query(request.query_params)
        if query is None:
            return None
        return {
            "customer_id": request.path_params["customer_id"],
            "runtime": await get_identity_runtime(request),
            "principal": await active_caller(request),
            "accept_language": request.headers.get("accept-language"),
            **query,
        }


def _plain_page_query(query: QueryParams) -> dict[str, Any] | None:
    """``cursor`` and ``limit`` of a query that has at most those, each once, the limit as
    digits within its bounds; else None."""
    items = query.multi_items()
    plain = dict(items)
    if len(plain) != len(items) or not plain.keys() <= {"cursor", "limit"}:
        return None
    limit = plain.get("limit", "50")
    if not (limit.isascii() and limit.isdigit() and limit[0] != "0" and len(limit) <= 3):
        return None
    if int(limit) > PAGE_LIMIT:
        return None
    return {"limit": int(limit), "cursor": plain.get("cursor")}


router.add_api_route(
    "/{customer_id}/timeline",
    timeline,
    methods=["GET"],
    route_class_override=TimelinePageRoute,
    response_model=TimelinePage,
    summary="The timeline",
)


def readable_wilayas(principal: Principal, customer_id: str) -> list[str]:
    """The wilayas in which the caller may read this customer's timeline ("*": any), as
    ``ensure_may_read_timeline`` decides it: the page's statement reads and audits only a
    customer of one of them (an agent without customer care, or another customer, reads in
    none)."""
    if principal.kind == "agent":
        return sorted(principal.wilayas) if principal.has_role(*CUSTOMER_CARE) else []
    if principal.kind == "customer":
        return ["*"] if principal.customer_id == customer_id else []
    return ["*"]  # a partner holding timeline:read, or one of our services


def _refuse(principal: Principal, customer: Any) -> NoReturn:
    """The answer about a customer the statement found out of the caller's scope: the
    problem ``ensure_may_read_timeline`` raises (403 for an agent without customer care,
    else 404)."""
    ensure_may_read_timeline(principal, customer)
    raise NotFound(f"No customer {customer.id}.")


def ensure_may_read_timeline(principal: Principal, customer: Any) -> None:
    """The check of a customer read (ensure_may_read), but for partners: their
    timeline:read scope (``ensure_may_read_timeline_kind``) reads any customer's."""
    if principal.kind != "partner":
        ensure_may_read(principal, customer)


def ensure_may_read_timeline_kind(principal: Principal) -> None:
    """Partners read timelines only with the timeline:read scope (then any customer's); an
    agent who never reads customers is refused whichever customer is asked for (before the
    statement looks the customer up, so the answer never tells whether one exists)."""
    if principal.kind == "partner":
        ensure_scope(principal, "timeline:read")
    else:
        ensure_reads_customers(principal)


def _language(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in ("fr", "ar", "en"):
            return code
    return None
