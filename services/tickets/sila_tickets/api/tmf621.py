"""TMF621 Trouble Ticket v4 for partners: the same tickets, flows, events and SLA, in TMF words.

Every error on these paths has the TMF ``Error`` shape instead of RFC 9457: the routes use
``TmfRoute``, which turns problems, validation and HTTP errors into it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from sila_common.auth import Principal, require_scope
from sila_common.db import as_utc
from sila_common.destinations import DestinationRefused, check_destination
from sila_common.inputs import Name
from sila_common.problems import PROBLEM_BASE, NotFound, Problem
from sila_common.settings import Profile
from sila_tickets import flows
from sila_tickets.api.deps import RuntimeDep
from sila_tickets.domain.lifecycle import Status
from sila_tickets.domain.sla import TicketPriority
from sila_tickets.domain.tmf import (
    TMF_SEVERITY,
    TMF_STATUS,
    TmfRequestError,
    category_of,
    check_callback,
    hub_event_types,
    parse_query,
    priority_of,
    select_fields,
    status_of,
)
from sila_tickets.flows import Caller, NewTicket
from sila_tickets.flows.tmf621 import Listener, TroubleTicketChange
from sila_tickets.settings import TicketsSettings
from sila_tickets.tables import (
    ticket_notes,
    ticket_transitions,
    tickets,
)

log = structlog.get_logger(__name__)

BASE = "/tmf-api/troubleTicket/v4"
TMF_READ = "tmf621:read"
TMF_WRITE = "tmf621:write"
CHANNELS = ("agency", "call_centre", "web", "app", "social", "email", "partner")

# ---- errors in the TMF shape -------------------------------------------------------------


def tmf_error(
    status_code: int,
    code: str,
    reason: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "reason": reason,
            "message": message,
            "status": str(status_code),
            "referenceError": f"{PROBLEM_BASE}/{code}",
            "@type": "Error",
        },
        status_code=status_code,
        headers=headers,
    )


def _from_problem(problem: Problem) -> JSONResponse:
    message = problem.detail
    allowed = problem.extensions.get("allowed_transitions")
    if allowed is not None:
        tmf = [TMF_STATUS[Status(s)] for s in allowed]
        message = f"{message} Allowed now: {', '.join(tmf) or 'none'}."
    errors = problem.extensions.get("errors")
    if isinstance(errors, list) and errors and problem.slug != "validation-error":
        message = f"{message} ({'; '.join(str(e.get('message', '')) for e in errors)})"
    return tmf_error(problem.status, problem.slug, problem.title, message, headers=problem.headers)


def _from_validation(exc: RequestValidationError) -> JSONResponse:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where or 'body'}: {err.get('msg', '')}")
    return tmf_error(400, "invalid-request", "Invalid request", "; ".join(parts))


class TmfRoute(APIRoute):
    """A route whose every error (auth, validation, business rule) is a TMF ``Error``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handle(request)
            except TmfRequestError as exc:
                return tmf_error(400, "invalid-request", "Invalid request", str(exc))
            except Problem as exc:
                return _from_problem(exc)
            except RequestValidationError as exc:
                return _from_validation(exc)
            except StarletteHTTPException as exc:
                detail = exc.detail if isinstance(exc.detail, str) else "Error"
                return tmf_error(exc.status_code, "error", detail, detail)
            except Exception:
                log.exception("tmf621.unhandled_error", path=request.url.path)
                return tmf_error(
                    500, "internal-error", "Internal error", "An unexpected error was logged."
                )

        return route_handler


router = APIRouter(prefix=BASE, tags=["TMF621 trouble ticket"], route_class=TmfRoute)

# ---- who may call ------------------------------------------------------------------------


def _is_admin(principal: Principal) -> bool:
    return principal.is_admin


# A partner holding the scope, or an administrator (the platform's one scope check).
Reader = Annotated[Principal, Depends(require_scope(TMF_READ, or_admin=True))]
Writer = Annotated[Principal, Depends(require_scope(TMF_WRITE, or_admin=True))]


def _reach(principal: Principal) -> Any:
    """The tickets a caller sees here: a partner, the ones it opened; an admin, all."""
    if _is_admin(principal):
        return None
    return tickets.c.opened_by == f"partner:{principal.subject}"


def _ensure_reach(principal: Principal, row: Any) -> None:
    if not _is_admin(principal) and row.opened_by != f"partner:{principal.subject}":
        raise NotFound(f"No trouble ticket {row.id}.")


# ---- the resource ------------------------------------------------------------------------


def _rfc3339(value: datetime | None) -> str | None:
    moment = as_utc(value)
    return moment.isoformat() if moment is not None else None


def href_of(settings: TicketsSettings, ticket_id: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}{BASE}/troubleTicket/{ticket_id}"


async def resources(
    session: AsyncSession, settings: TicketsSettings, rows: Sequence[Any]
) -> list[dict[str, Any]]:
    """Tickets as TMF621 TroubleTickets (public notes only; staff named by kind), in 2 queries."""
    ids = [row.id for row in rows]
    histories: dict[str, list[Any]] = {i: [] for i in ids}
    notes: dict[str, list[Any]] = {i: [] for i in ids}
    if ids:
        for h in await session.execute(
            select(ticket_transitions)
            .where(ticket_transitions.c.ticket_id.in_(ids))
            .order_by(ticket_transitions.c.id)
        ):
            histories[h.ticket_id].append(h)
        for n in await session.execute(
            select(ticket_notes)
            .where(ticket_notes.c.ticket_id.in_(ids), ticket_notes.c.public.is_(True))
            .order_by(ticket_notes.c.created_at)
        ):
            notes[n.ticket_id].append(n)
    return [_resource(settings, row, histories[row.id], notes[row.id]) for row in rows]


async def resource(session: AsyncSession, settings: TicketsSettings, row: Any) -> dict[str, Any]:
    return (await resources(session, settings, [row]))[0]


def _resource(
    settings: TicketsSettings, row: Any, history: Sequence[Any], notes: Sequence[Any]
) -> dict[str, Any]:
    last = history[-1] if history else None
    characteristics = [
        {"name": "number", "value": row.number, "valueType": "string"},
        {"name": "queue", "value": row.queue, "valueType": "string"},
    ]
    for name, value in (
        ("subcategory", row.subcategory),
        ("service", row.service),
        ("incidentId", row.incident_id),
    ):
        if value is not None:
            characteristics.append({"name": name, "value": value, "valueType": "string"})
    return {
        "id": row.id,
        "href": href_of(settings, row.id),
        "@type": "TroubleTicket",
        "name": row.subject,
        "description": row.description,
        "severity": TMF_SEVERITY[TicketPriority(row.priority)],
        "priority": row.priority,
        "ticketType": row.category,
        "status": TMF_STATUS[Status(row.status)],
        "statusChangeDate": _rfc3339(last.at) if last else None,
        "statusChangeReason": last.reason if last else None,
        "creationDate": _rfc3339(row.opened_at),
        "lastUpdate": _rfc3339(row.updated_at),
        "expectedResolutionDate": _rfc3339(row.due_at),
        "resolutionDate": _rfc3339(row.resolved_at),
        "externalId": row.external_id,
        "channel": {"id": row.channel, "name": row.channel, "@type": "ChannelRef"},
        "relatedParty": [
            {
                "id": row.customer_id,
                "role": "customer",
                "@referredType": "Customer",
                "@type": "RelatedParty",
            }
        ],
        "statusChange": [
            {
                "status": TMF_STATUS[Status(h.to_status)],
                "changeDate": _rfc3339(h.at),
                "changeReason": h.reason,
                "@type": "StatusChange",
            }
            for h in history
        ],
        "note": [
            {
                "id": n.id,
                "author": n.author.split(":", 1)[0],
                "date": _rfc3339(n.created_at),
                "text": n.text,
                "@type": "Note",
            }
            for n in notes
        ],
        "troubleTicketCharacteristic": characteristics,
    }


# ---- bodies ------------------------------------------------------------------------------


class _Tmf(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class RelatedPartyIn(_Tmf):
    id: str = Field(min_length=1, max_length=36)
    role: str = Field(min_length=1, max_length=50)
    name: Name | None = Field(default=None, max_length=200)


class ChannelIn(_Tmf):
    id: str | None = Field(default=None, max_length=50)
    name: str | None = Field(default=None, max_length=50)


class NoteIn(_Tmf):
    text: str = Field(min_length=1, max_length=5000)


class CharacteristicIn(_Tmf):
    name: str = Field(min_length=1, max_length=50)
    value: str = Field(max_length=100)


class TroubleTicketCreate(_Tmf):
    name: Name | None = Field(default=None, max_length=200)
    description: str = Field(min_length=3, max_length=5000)
    severity: str = Field(min_length=1, max_length=30)
    ticket_type: str = Field(alias="ticketType", min_length=1, max_length=30)
    related_party: list[RelatedPartyIn] = Field(alias="relatedParty", min_length=1, max_length=10)
    channel: ChannelIn | str | None = None
    external_id: str | None = Field(default=None, alias="externalId", max_length=100)
    note: list[NoteIn] = Field(default_factory=list, max_length=20)
    characteristics: list[CharacteristicIn] = Field(
        default_factory=list, alias="troubleTicketCharacteristic", max_length=20
    )


class TroubleTicketUpdate(_Tmf):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    status: str | None = None
    status_change_reason: str | None = Field(
        default=None, alias="statusChangeReason", max_length=2000
    )
    note: list[NoteIn] | None = Field(default=None, max_length=20)
    external_id: str | None = Field(default=None, alias="externalId", max_length=100)
    type_: str | None = Field(default=None, alias="@type", max_length=50)


def _channel(value: ChannelIn | str | None) -> str:
    if value is None:
        return "partner"
    word = value if isinstance(value, str) else (value.name or value.id or "partner")
    word = word.strip().casefold().replace(" ", "_").replace("-", "_")
    if word not in CHANNELS:
        raise TmfRequestError(
            f"{word!r} is not a channel; expected one of {list(CHANNELS)}.", field="channel"
        )
    return word


def _customer(parties: Sequence[RelatedPartyIn]) -> str:
    customers = [p.id for p in parties if p.role.strip().casefold() == "customer"]
    if len(customers) != 1:
        raise TmfRequestError(
            "relatedParty must hold exactly one party with the role customer.",
            field="relatedParty",
        )
    return customers[0]


def new_ticket(body: TroubleTicketCreate) -> NewTicket:
    traits = {c.name: c.value for c in body.characteristics}
    subject = (body.name or body.description).strip()
    if len(subject) > 200:
        subject = subject[:199] + "…"
    return NewTicket(
        customer_id=_customer(body.related_party),
        category=category_of(body.ticket_type),
        channel=_channel(body.channel),
        subject=subject,
        subcategory=traits.get("subcategory"),
        priority=priority_of(body.severity),
        description=body.description,
        service=traits.get("service"),
        external_id=body.external_id,
    )


# ---- trouble tickets ---------------------------------------------------------------------


@router.get("/troubleTicket", summary="Trouble tickets: filters, attribute selection, paging")
async def list_trouble_tickets(
    request: Request, runtime: RuntimeDep, principal: Reader
) -> JSONResponse:
    query = parse_query(list(request.query_params.multi_items()))
    conditions: list[Any] = []
    reach = _reach(principal)
    if reach is not None:
        conditions.append(reach)
    for column, values in query.equals.items():
        conditions.append(tickets.c[column].in_(values))
    operators = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}
    for column, comparator, instant in query.ranges:
        conditions.append(getattr(tickets.c[column], operators[comparator])(instant))
    where = and_(*conditions) if conditions else None
    selection = select(tickets)
    counting = select(func.count()).select_from(tickets)
    if where is not None:
        selection, counting = selection.where(where), counting.where(where)
    selection = (
        selection.order_by(tickets.c.opened_at.desc(), tickets.c.id.desc())
        .offset(query.offset)
        .limit(query.limit)
    )
    async with runtime.session_factory() as session:
        total = int(await session.scalar(counting) or 0)
        rows = (await session.execute(selection)).all()
        items = [
            select_fields(document, query.fields)
            for document in await resources(session, runtime.settings, rows)
        ]
    return JSONResponse(
        items, headers={"X-Total-Count": str(total), "X-Result-Count": str(len(items))}
    )


@router.post(
    "/troubleTicket",
    status_code=status.HTTP_201_CREATED,
    summary="Create a trouble ticket (it is one of our tickets: same rules, events and SLA)",
)
async def create_trouble_ticket(
    body: TroubleTicketCreate, runtime: RuntimeDep, principal: Writer
) -> JSONResponse:
    ticket_id = await flows.open_trouble_ticket(
        runtime, new_ticket(body), Caller.of(principal), [note.text for note in body.note]
    )
    async with runtime.session_factory() as session:
        document = await resource(
            session, runtime.settings, await flows.load_ticket(session, ticket_id)
        )
    return JSONResponse(
        document,
        status_code=status.HTTP_201_CREATED,
        headers={"Location": f"{BASE}/troubleTicket/{ticket_id}"},
    )


@router.get("/troubleTicket/{ticket_id}", summary="One trouble ticket")
async def get_trouble_ticket(
    request: Request, ticket_id: str, runtime: RuntimeDep, principal: Reader
) -> JSONResponse:
    fields = parse_query(
        [(k, v) for k, v in request.query_params.multi_items() if k == "fields"]
    ).fields
    if set(request.query_params) - {"fields"}:
        raise TmfRequestError("Only `fields` may be given when reading one trouble ticket.")
    async with runtime.session_factory() as session:
        row = await _load(session, ticket_id, principal)
        return JSONResponse(select_fields(await resource(session, runtime.settings, row), fields))


async def _load(
    session: AsyncSession, ticket_id: str, principal: Principal, *, lock: bool = False
) -> Any:
    try:
        row = await flows.load_ticket(session, ticket_id, lock=lock)
    except NotFound:
        raise NotFound(f"No trouble ticket {ticket_id}.") from None
    _ensure_reach(principal, row)
    return row


@router.patch(
    "/troubleTicket/{ticket_id}",
    summary="Change status (through the lifecycle), add notes, set externalId",
)
async def patch_trouble_ticket(
    ticket_id: str, body: TroubleTicketUpdate, runtime: RuntimeDep, principal: Writer
) -> JSONResponse:
    if body.status is None and body.status_change_reason is not None:
        raise TmfRequestError("statusChangeReason goes with a status.", field="statusChangeReason")
    target = status_of(body.status) if body.status is not None else None

    async def load(session: AsyncSession, ticket_id: str) -> Any:
        return await _load(session, ticket_id, principal, lock=True)

    await flows.change_trouble_ticket(
        runtime,
        ticket_id,
        TroubleTicketChange(
            notes=[note.text for note in body.note or []],
            target=target,
            reason=body.status_change_reason,
            sets_external_id="external_id" in body.model_fields_set,
            external_id=body.external_id,
        ),
        caller=Caller.of(principal),
        load=load,
    )
    async with runtime.session_factory() as session:
        document = await resource(
            session, runtime.settings, await flows.load_ticket(session, ticket_id)
        )
    return JSONResponse(document)


# ---- the hub -----------------------------------------------------------------------------


class HubCreate(_Tmf):
    callback: str = Field(min_length=8, max_length=2000)
    query: str | None = Field(default=None, max_length=1000)


def _listener(principal: Principal) -> Listener:
    return Listener(
        owner=f"{principal.kind}:{principal.subject}",
        partner_id=principal.subject,
        reach="all" if _is_admin(principal) else "own",
    )


@router.post(
    "/hub",
    status_code=status.HTTP_201_CREATED,
    summary="Register a listener for trouble-ticket events (delivered by notify)",
)
async def register_listener(
    body: HubCreate, runtime: RuntimeDep, principal: Writer
) -> JSONResponse:
    relaxed = runtime.platform.profile in (Profile.DEV, Profile.TEST)
    callback = check_callback(body.callback, allow_loopback=relaxed)
    hub_event_types(body.query)  # refuses a query selecting nothing we send
    try:
        # Notify delivers the events: the same check as its webhooks, so a callback it
        # would refuse (a private address, a name resolving to one) is refused here.
        await check_destination(callback, runtime.platform.profile)
    except DestinationRefused as refused:
        raise TmfRequestError(f"The callback is refused: {refused}.", field="callback") from refused
    subscription_id = await flows.register_listener(
        runtime, _listener(principal), callback, body.query
    )
    return JSONResponse(
        {"id": subscription_id, "callback": callback, "query": body.query},
        status_code=status.HTTP_201_CREATED,
        headers={"Location": f"{BASE}/hub/{subscription_id}"},
    )


@router.delete(
    "/hub/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a listener",
)
async def remove_listener(subscription_id: str, runtime: RuntimeDep, principal: Writer) -> Response:
    await flows.remove_listener(runtime, _listener(principal), subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Anything else under the TMF prefix still answers in the TMF shape (404, or 405).
@router.api_route(
    "/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def not_here(request: Request, rest: str) -> Response:
    for route in router.routes:
        if not isinstance(route, APIRoute) or route.name == "not_here":
            continue
        match, _ = route.matches({**request.scope, "method": "__none__"})
        if match is not Match.NONE:
            raise Problem(
                f"{request.method} is not allowed on {request.url.path}.",
                status=405,
                slug="method-not-allowed",
                title="Method not allowed",
            )
    raise NotFound(f"No resource at {request.url.path}.")
