"""What was sent to a customer and how it went; the My Idoom inbox; SMS delivery reports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from sqlalchemy import func, select
from starlette.datastructures import QueryParams

from sila_common.auth import CurrentPrincipal
from sila_common.db import newest_first
from sila_common.direct import DirectRoute
from sila_common.inputs import decode_time_cursor
from sila_common.pagination import KeysetPage, next_time_cursor
from sila_common.problems import NotFound, Unprocessable
from sila_notify.api.deps import RuntimeDep, customer_in_scope, get_notify_runtime
from sila_notify.flows import inbox as inbox_flows
from sila_notify.flows.delivery import records
from sila_notify.flows.delivery.reports import DeliveryReport, delivery_reports
from sila_notify.tables import inbox_items, messages

notifications = APIRouter(prefix="/v1/notifications", tags=["notifications"])
inbox = APIRouter(prefix="/v1/inbox", tags=["inbox"])
callbacks = APIRouter(prefix="/v1/callbacks", tags=["provider callbacks"])


class MessageRead(BaseModel):
    id: str
    customer_id: str
    event_id: str
    event_type: str
    template: str
    template_version: int | None
    channel: str
    lane: str
    urgent: bool
    language: str
    subject: str | None
    body: str
    state: str
    provider_reason: str | None
    attempts: int
    scheduled_for: datetime
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    campaign_id: str | None


class MessagePage(KeysetPage[MessageRead]):
    pass


def to_message(row: Any) -> MessageRead:
    return MessageRead(
        id=row.id,
        customer_id=row.customer_id,
        event_id=row.event_id,
        event_type=row.event_type,
        template=row.template,
        template_version=row.template_version,
        channel=row.channel,
        lane=row.lane,
        urgent=row.urgent,
        language=row.language,
        subject=row.subject,
        body=row.body,
        state=row.state,
        provider_reason=row.provider_reason,
        attempts=row.attempts,
        scheduled_for=row.scheduled_for or datetime.now(UTC),
        created_at=row.created_at or datetime.now(UTC),
        sent_at=row.sent_at,
        delivered_at=row.delivered_at,
        failed_at=row.failed_at,
        campaign_id=row.campaign_id,
    )


@notifications.get("", response_model=MessagePage, summary="A customer's messages, newest first")
async def list_notifications(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    customer_id: Annotated[str, Query(min_length=1, max_length=36)],
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> MessagePage:
    async with runtime.session_factory() as session:
        await customer_in_scope(session, runtime, principal, customer_id)
        query = newest_first(
            select(messages).where(messages.c.customer_id == customer_id),
            messages.c.created_at,
            messages.c.id,
            after=decode_time_cursor(cursor) if cursor else None,
            limit=limit,
        )
        rows = (await session.execute(query)).all()
    return MessagePage(
        items=[to_message(r) for r in rows[:limit]],
        next_cursor=next_time_cursor(rows, limit, "created_at"),
    )


@notifications.get("/{message_id}", response_model=MessageRead, summary="One message")
async def get_notification(
    message_id: str, runtime: RuntimeDep, principal: CurrentPrincipal
) -> MessageRead:
    async with runtime.session_factory() as session:
        row = await records.load(session, message_id)
        if row is None:
            raise NotFound(f"No message {message_id}.")
        try:
            await customer_in_scope(session, runtime, principal, row.customer_id)
        except NotFound as hidden:
            raise NotFound(f"No message {message_id}.") from hidden
    return to_message(row)


class InboxItem(BaseModel):
    id: str
    message_id: str
    event_type: str
    title: str | None
    body: str
    created_at: datetime
    read_at: datetime | None


class InboxPage(KeysetPage[InboxItem]):
    unread_count: int


def _inbox_owner(principal: Any, customer_id: str | None) -> str:
    if principal.kind == "customer" and principal.customer_id:
        return str(principal.customer_id)
    if customer_id is None:
        raise Unprocessable(
            "Say whose inbox: customer_id.",
            errors=[{"field": "query.customer_id", "message": "required", "type": "missing"}],
        )
    return customer_id


@inbox.get("", response_model=InboxPage, summary="The My Idoom inbox, newest first")
async def list_inbox(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> InboxPage:
    owner = _inbox_owner(principal, customer_id)
    async with runtime.session_factory() as session:
        await customer_in_scope(session, runtime, principal, owner)
        query = newest_first(
            select(inbox_items).where(inbox_items.c.customer_id == owner),
            inbox_items.c.created_at,
            inbox_items.c.id,
            after=decode_time_cursor(cursor) if cursor else None,
            limit=limit,
        )
        rows = (await session.execute(query)).all()
        unread = await session.scalar(
            select(func.count()).where(
                inbox_items.c.customer_id == owner, inbox_items.c.read_at.is_(None)
            )
        )
    items = [
        InboxItem(
            id=r.id,
            message_id=r.message_id,
            event_type=r.event_type,
            title=r.title,
            body=r.body,
            created_at=r.created_at or datetime.now(UTC),
            read_at=r.read_at,
        )
        for r in rows[:limit]
    ]
    next_cursor = next_time_cursor(rows, limit, "created_at")
    return InboxPage(items=items, unread_count=int(unread or 0), next_cursor=next_cursor)


@inbox.post("/{item_id}/read", response_model=InboxItem, summary="Mark an inbox item read")
async def mark_read(item_id: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> InboxItem:
    row, read_at = await inbox_flows.mark_read(
        runtime,
        item_id,
        scope=lambda session, customer: customer_in_scope(session, runtime, principal, customer),
    )
    return InboxItem(
        id=row.id,
        message_id=row.message_id,
        event_type=row.event_type,
        title=row.title,
        body=row.body,
        created_at=row.created_at or datetime.now(UTC),
        read_at=read_at,
    )


# The query's bounds, declared once for FastAPI's validation and the direct route's.
DLR_MESSAGE_ID_MAX = 36
DLR_TOKEN_MAX = 100
DLR_TYPE_MAX = 63
DLR_ANSWER_MAX = 500


async def sms_delivery_report(
    runtime: RuntimeDep,
    message_id: Annotated[str, Query(max_length=DLR_MESSAGE_ID_MAX)],
    token: Annotated[str, Query(max_length=DLR_TOKEN_MAX)],
    type: Annotated[int, Query(ge=0, le=DLR_TYPE_MAX)],
    answer: Annotated[str, Query(max_length=DLR_ANSWER_MAX)] = "",
) -> Response:
    # Reports arriving together are recorded in one transaction (delivery/reports.py); each is
    # answered once its own is committed.
    report = DeliveryReport(message_id=message_id, token=token, type=type, answer=answer)
    if not await delivery_reports(runtime).record(report):
        # The same answer whether the message exists or not.
        raise NotFound("No such delivery report target.")
    return PlainTextResponse("OK")


class DeliveryReportRoute(DirectRoute):
    """The SMS centre's reports as Kannel sends them (``message_id``, ``token``, ``type`` and
    perhaps ``answer``, each once and within its bounds, ``type`` in plain digits) are given
    their arguments directly: one report per message sent, the notify API's busiest path
    during a campaign (docs/benchmarks.md, "SMS path"). Anything else is FastAPI's."""

    async def direct_arguments(self, request: Request) -> dict[str, Any] | None:
        query = _plain_report(request.query_params)
        if query is None:
            return None
        return {
            "runtime": await get_notify_runtime(request),
            "message_id": query["message_id"],
            "token": query["token"],
            "type": int(query["type"]),
            "answer": query.get("answer", ""),
        }


_REPORT_BOUNDS = {
    "message_id": DLR_MESSAGE_ID_MAX,
    "token": DLR_TOKEN_MAX,
    "type": len(str(DLR_TYPE_MAX)),
    "answer": DLR_ANSWER_MAX,
}


def _plain_report(query: QueryParams) -> dict[str, str] | None:
    """The report's parameters when the query is a plain report, else None."""
    items = query.multi_items()
    found = dict(items)
    if len(found) != len(items) or not {"message_id", "token", "type"} <= found.keys():
        return None  # a parameter twice, or one missing
    for name, value in items:
        bound = _REPORT_BOUNDS.get(name)
        if bound is None or len(value) > bound:
            return None
    kind = found["type"]
    if not (kind.isascii() and kind.isdigit() and int(kind) <= DLR_TYPE_MAX):
        return None
    return found


callbacks.add_api_route(
    "/sms-dlr",
    sms_delivery_report,
    methods=["GET"],
    route_class_override=DeliveryReportRoute,
    response_class=PlainTextResponse,
    summary="Delivery reports from the SMS centre (Kannel dlr-url)",
    description="Unauthenticated: the per-message token in the dlr-url proves the report.",
)
