"""TMF621 Trouble Ticket v4 as words over our tickets: statuses, severities, types, queries.

Pure mapping rules; the router in ``api/tmf621.py`` applies them to rows and requests.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sila_tickets.domain.lifecycle import Status
from sila_tickets.domain.sla import TicketCategory, TicketPriority


class TmfRequestError(ValueError):
    """A request TMF621 cannot take as it is (a bad filter, field, severity, callback...)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# TMF621 v4 statuses <-> ours: one to one.
TMF_STATUS: dict[Status, str] = {
    Status.ACKNOWLEDGED: "acknowledged",
    Status.IN_PROGRESS: "inProgress",
    Status.PENDING_CUSTOMER: "pending",
    Status.HELD: "held",
    Status.RESOLVED: "resolved",
    Status.CLOSED: "closed",
    Status.REJECTED: "rejected",
    Status.CANCELLED: "cancelled",
}
STATUS_OF_TMF: dict[str, Status] = {tmf: ours for ours, tmf in TMF_STATUS.items()}

# Severity (TMF, free text) drives our priority, hence the commitment.
TMF_SEVERITY: dict[TicketPriority, str] = {
    TicketPriority.CRITICAL: "Critical",
    TicketPriority.HIGH: "Major",
    TicketPriority.NORMAL: "Minor",
    TicketPriority.LOW: "Low",
}
_SEVERITY_WORDS: dict[str, TicketPriority] = {
    "critical": TicketPriority.CRITICAL,
    "urgent": TicketPriority.CRITICAL,
    "major": TicketPriority.HIGH,
    "high": TicketPriority.HIGH,
    "minor": TicketPriority.NORMAL,
    "normal": TicketPriority.NORMAL,
    "medium": TicketPriority.NORMAL,
    "low": TicketPriority.LOW,
    "warning": TicketPriority.LOW,
}
# ticketType (TMF, free text) is our category; a few usual words are understood too.
_TYPE_WORDS: dict[str, TicketCategory] = {
    "technical": TicketCategory.TECHNICAL,
    "fault": TicketCategory.TECHNICAL,
    "incident": TicketCategory.TECHNICAL,
    "trouble": TicketCategory.TECHNICAL,
    "administrative": TicketCategory.ADMINISTRATIVE,
    "billing": TicketCategory.ADMINISTRATIVE,
    "dispute": TicketCategory.ADMINISTRATIVE,
    "commercial": TicketCategory.COMMERCIAL,
    "request": TicketCategory.COMMERCIAL,
    "information": TicketCategory.COMMERCIAL,
}

HUB_EVENT_TYPES = (
    "TroubleTicketCreateEvent",
    "TroubleTicketStatusChangeEvent",
    "TroubleTicketResolvedEvent",
    "TroubleTicketInformationRequiredEvent",
)


def status_of(value: str) -> Status:
    try:
        return STATUS_OF_TMF[value]
    except KeyError:
        raise TmfRequestError(
            f"{value!r} is not a TMF621 status; expected one of {sorted(STATUS_OF_TMF)}.",
            field="status",
        ) from None


def priority_of(severity: str) -> TicketPriority:
    try:
        return _SEVERITY_WORDS[severity.strip().casefold()]
    except KeyError:
        raise TmfRequestError(
            f"{severity!r} is not a severity; expected one of {list(TMF_SEVERITY.values())}.",
            field="severity",
        ) from None


def category_of(ticket_type: str) -> TicketCategory:
    try:
        return _TYPE_WORDS[ticket_type.strip().casefold()]
    except KeyError:
        raise TmfRequestError(
            f"{ticket_type!r} is not a ticket type; expected one of "
            f"{[c.value for c in TicketCategory]}.",
            field="ticketType",
        ) from None


# ---- list queries ------------------------------------------------------------------------

COMPARATORS = {"gt", "gte", "lt", "lte"}
# TMF attribute -> our column, for the filters that compare instants.
DATE_ATTRIBUTES = {
    "creationDate": "opened_at",
    "lastUpdate": "updated_at",
    "expectedResolutionDate": "due_at",
    "resolutionDate": "resolved_at",
}
# TMF attribute -> our column, for equality filters (comma = any of).
EQUALITY_ATTRIBUTES = {
    "id": "id",
    "status": "status",
    "severity": "priority",
    "ticketType": "category",
    "relatedParty.id": "customer_id",
    "externalId": "external_id",
    "channel.id": "channel",
    "channel.name": "channel",
}
PAGING = {"fields", "offset", "limit"}


@dataclass
class TicketQuery:
    """A TMF621 list request in our terms."""

    equals: dict[str, list[str]] = field(default_factory=dict)
    # (column, comparator, instant)
    ranges: list[tuple[str, str, datetime]] = field(default_factory=list)
    fields: list[str] | None = None
    offset: int = 0
    limit: int = 50


def _instant(name: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise TmfRequestError(f"{name} needs an RFC 3339 instant.", field=name) from None
    if value.tzinfo is None:
        raise TmfRequestError(f"{name} needs a UTC offset.", field=name)
    return value


def _number(name: str, raw: str, *, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise TmfRequestError(f"{name} must be a whole number.", field=name) from None
    if not low <= value <= high:
        raise TmfRequestError(f"{name} must lie between {low} and {high}.", field=name)
    return value


def parse_query(
    params: list[tuple[str, str]], *, default_limit: int = 50, max_limit: int = 200
) -> TicketQuery:
    """The filters, attribute selection and page of a list request; unknown names refused."""
    query = TicketQuery(limit=default_limit)
    for name, raw in params:
        if name == "fields":
            query.fields = [part.strip() for part in raw.split(",") if part.strip()]
        elif name == "offset":
            query.offset = _number(name, raw, low=0, high=10_000_000)
        elif name == "limit":
            query.limit = _number(name, raw, low=1, high=max_limit)
        elif name in EQUALITY_ATTRIBUTES:
            values = [part.strip() for part in raw.split(",") if part.strip()]
            if not values:
                raise TmfRequestError(f"{name} needs a value.", field=name)
            if name == "status":
                values = [status_of(v).value for v in values]
            elif name == "severity":
                values = [priority_of(v).value for v in values]
            elif name == "ticketType":
                values = [category_of(v).value for v in values]
            column = EQUALITY_ATTRIBUTES[name]
            query.equals[column] = [*query.equals.get(column, []), *values]
        else:
            attribute, _, comparator = name.rpartition(".")
            if attribute in DATE_ATTRIBUTES and comparator in COMPARATORS:
                query.ranges.append((DATE_ATTRIBUTES[attribute], comparator, _instant(name, raw)))
            elif name in DATE_ATTRIBUTES:
                instant = _instant(name, raw)
                query.ranges.append((DATE_ATTRIBUTES[name], "gte", instant))
                query.ranges.append((DATE_ATTRIBUTES[name], "lte", instant))
            else:
                known = sorted(
                    [
                        *EQUALITY_ATTRIBUTES,
                        *PAGING,
                        *(f"{d}.gt|gte|lt|lte" for d in DATE_ATTRIBUTES),
                    ]
                )
                raise TmfRequestError(
                    f"{name!r} is not a filter this API knows; it knows {known}.", field=name
                )
    return query


# Always returned whatever `fields` asks, so a partial answer still names its resource.
ALWAYS_SELECTED = ("id", "href", "@type")


def select_fields(resource: Mapping[str, Any], fields: list[str] | None) -> dict[str, Any]:
    """Attribute selection: the first-level attributes named (``note.text`` selects ``note``)."""
    if not fields:
        return dict(resource)
    wanted = {name.split(".", 1)[0] for name in fields} | set(ALWAYS_SELECTED)
    return {name: value for name, value in resource.items() if name in wanted}


# ---- the hub -----------------------------------------------------------------------------


def hub_event_types(query: str | None) -> list[str]:
    """The event types a hub query selects (all four when empty); only `eventType` is read.

    ``eventType=TroubleTicketStatusChangeEvent,TroubleTicketResolvedEvent`` (several
    ``eventType`` terms add up).
    """
    if query is None or not query.strip():
        return list(HUB_EVENT_TYPES)
    selected: list[str] = []
    for name, value in parse_qsl(query.strip().lstrip("?"), keep_blank_values=True):
        if name != "eventType":
            raise TmfRequestError(
                f"The hub query may only select by eventType, not by {name!r}.", field="query"
            )
        for part in value.split(","):
            part = part.strip()
            if part not in HUB_EVENT_TYPES:
                raise TmfRequestError(
                    f"{part!r} is not an event this hub sends; expected one of "
                    f"{list(HUB_EVENT_TYPES)}.",
                    field="query",
                )
            if part not in selected:
                selected.append(part)
    if not selected:
        raise TmfRequestError("The hub query selects no event type.", field="query")
    return selected


_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def check_callback(url: str, *, allow_loopback: bool) -> str:
    """The callback URL if listeners may be called there: https, or loopback in dev/test.

    Only the URL's own words are checked here; notify resolves the host and checks every
    address again before each delivery (a name can be re-pointed later).
    """
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").casefold()
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise TmfRequestError("The callback is not a URL.", field="callback") from None
    if parts.scheme not in ("http", "https") or not host:
        raise TmfRequestError("The callback must be an http(s) URL.", field="callback")
    if parts.username or parts.password:
        raise TmfRequestError("The callback may not carry credentials.", field="callback")
    if parts.fragment:
        raise TmfRequestError("The callback may not carry a fragment.", field="callback")
    loopback = host in _LOOPBACK_NAMES
    private = False
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        loopback = address.is_loopback
        private = not address.is_global and not loopback
    if loopback:
        if not allow_loopback:
            raise TmfRequestError(
                "A loopback callback is only accepted in development and tests.",
                field="callback",
            )
        return url.strip()
    if private:
        raise TmfRequestError("The callback may not point at a private address.", field="callback")
    if parts.scheme != "https":
        raise TmfRequestError("The callback must use https.", field="callback")
    return url.strip()
