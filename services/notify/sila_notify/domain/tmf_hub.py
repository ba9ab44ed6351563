"""TMF621 hub events: which listener hears what, and the TMF event body a ticket event becomes.

Built from the event's data alone (the contract in docs/tickets.md, "The hub, and what notify
must do"), so notify does not depend on the tickets code. One CloudEvent can become two TMF
events (a status change and a resolution); each gets its own ``eventId``,
``<cloud event id>:<TMF event type>``, which is what keeps a delivery idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

CREATE: Final = "TroubleTicketCreateEvent"
STATUS_CHANGE: Final = "TroubleTicketStatusChangeEvent"
RESOLVED: Final = "TroubleTicketResolvedEvent"
INFORMATION_REQUIRED: Final = "TroubleTicketInformationRequiredEvent"
HUB_EVENT_TYPES: Final = (CREATE, STATUS_CHANGE, RESOLVED, INFORMATION_REQUIRED)

TICKET_OPENED: Final = "tickets.ticket.opened"
TICKET_STATUS_CHANGED: Final = "tickets.ticket.status_changed"
HUB_SUBSCRIPTION_CHANGED: Final = "tickets.hub_subscription.changed"

# Our ticket statuses -> TMF621 v4 (one to one).
TMF_STATUS: Final[Mapping[str, str]] = {
    "acknowledged": "acknowledged",
    "in_progress": "inProgress",
    "pending_customer": "pending",
    "held": "held",
    "resolved": "resolved",
    "closed": "closed",
    "rejected": "rejected",
    "cancelled": "cancelled",
}

# Our priority -> TMF severity (the words tickets accepts as synonyms map the same way).
TMF_SEVERITY: Final[Mapping[str, str]] = {
    "critical": "Critical",
    "urgent": "Critical",
    "high": "Major",
    "normal": "Minor",
    "medium": "Minor",
    "low": "Low",
}

TROUBLE_TICKET_PATH: Final = "/tmf-api/troubleTicket/v4/troubleTicket"


@dataclass(frozen=True)
class TmfEvent:
    """One TMF621 event to deliver: its type, its idempotent id and the JSON body."""

    event_type: str
    event_id: str
    body: dict[str, Any]


def tmf_event_types(event_type: str, data: Mapping[str, Any]) -> list[str]:
    """The TMF event types one of our ticket events becomes (none for any other event)."""
    if event_type == TICKET_OPENED:
        return [CREATE]
    if event_type != TICKET_STATUS_CHANGED:
        return []
    types = [STATUS_CHANGE]
    if data.get("status") == "resolved":
        types.append(RESOLVED)
    elif data.get("status") == "pending_customer":
        types.append(INFORMATION_REQUIRED)
    return types


def hears(
    *,
    reach: str | None,
    listener_partner_id: str | None,
    wanted: Iterable[str],
    ticket_partner_id: str | None,
    tmf_type: str,
) -> bool:
    """Whether a listener receives a TMF event about a ticket opened by ``ticket_partner_id``.

    ``reach: all`` (an administrator's listener) hears every ticket; ``own`` only the tickets
    its partner opened. An empty selection means all four event types, as an empty query does.
    """
    selected = list(wanted) or list(HUB_EVENT_TYPES)
    if tmf_type not in selected:
        return False
    if reach == "all":
        return True
    return ticket_partner_id is not None and ticket_partner_id == listener_partner_id


def _present(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def trouble_ticket(
    event_type: str, time: datetime, data: Mapping[str, Any], public_base_url: str
) -> dict[str, Any]:
    """The ``troubleTicket`` an event carries: what changed, and ``href`` to read the rest."""
    ticket_id = str(data["ticket_id"])
    common: dict[str, Any] = {
        "id": ticket_id,
        "href": f"{public_base_url.rstrip('/')}{TROUBLE_TICKET_PATH}/{ticket_id}",
        "@type": "TroubleTicket",
        "externalId": data.get("external_id"),
    }
    moment = time.isoformat()
    if event_type == TICKET_OPENED:
        priority = str(data.get("priority") or "")
        return _present(
            {
                **common,
                "status": "acknowledged",
                "severity": TMF_SEVERITY.get(priority.casefold(), priority.capitalize() or None),
                "ticketType": data.get("category"),
                "name": data.get("subject"),
                "creationDate": moment,
                "expectedResolutionDate": data.get("due_at"),
                "relatedParty": [{"id": str(data["customer_id"]), "role": "customer"}],
            }
        )
    status = str(data.get("status") or "")
    return _present(
        {
            **common,
            "status": TMF_STATUS.get(status, status),
            "statusChangeReason": data.get("reason"),
            "statusChangeDate": moment,
            "expectedResolutionDate": data.get("due_at"),
        }
    )


_TITLES: Final[Mapping[str, str]] = {
    CREATE: "created",
    STATUS_CHANGE: "changed status",
    RESOLVED: "resolved",
    INFORMATION_REQUIRED: "waiting on information",
}


def tmf_events(
    *,
    event_type: str,
    event_id: str,
    time: datetime,
    data: Mapping[str, Any],
    public_base_url: str,
) -> list[TmfEvent]:
    """The TMF621 events for one of our CloudEvents, ready to send (``[]`` when none)."""
    types = tmf_event_types(event_type, data)
    if not types:
        return []
    ticket = trouble_ticket(event_type, time, data, public_base_url)
    moment = time.isoformat()
    number = data.get("number")
    events = []
    for tmf_type in types:
        tmf_id = f"{event_id}:{tmf_type}"
        body = _present(
            {
                "eventId": tmf_id,
                "eventTime": moment,
                "eventType": tmf_type,
                # The CloudEvent: a status change and its resolution share it.
                "correlationId": event_id,
                "domain": "troubleTicket",
                "title": f"Trouble ticket {number} {_TITLES[tmf_type]}" if number else None,
                "timeOcurred": moment,
                "event": {"troubleTicket": dict(ticket)},
            }
        )
        events.append(TmfEvent(event_type=tmf_type, event_id=tmf_id, body=body))
    return events
