"""The events tickets publishes on ``sila.tickets`` (all keyed by customer id)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from sila_common.events import declare_event


class TicketOpened(BaseModel):
    ticket_id: str
    number: str
    customer_id: str
    category: str
    subcategory: str | None
    priority: str
    channel: str
    subject: str
    queue: str
    status: str
    due_at: datetime | None
    first_response_due_at: datetime | None
    incident_id: str | None = None
    estimated_end_at: datetime | None = None
    wilaya_code: str | None = None
    # Set when a partner opened the ticket (TMF621 hub listeners hear only their own).
    partner_id: str | None = None
    external_id: str | None = None
    # The agency handling it (its hours drive the due dates), when there is one.
    agency_code: str | None = None


class TicketStatusChanged(BaseModel):
    ticket_id: str
    number: str
    customer_id: str
    from_status: str
    status: str
    reason: str | None
    due_at: datetime | None
    survey_url: str | None = None
    # What the customer hears (opened, in_progress, pending_customer, resolved, closed...).
    public_status: str
    actor_kind: str
    partner_id: str | None = None
    external_id: str | None = None


class TicketAssigned(BaseModel):
    ticket_id: str
    number: str
    customer_id: str
    queue: str
    assignee_id: str
    automatic: bool


class TicketEscalated(BaseModel):
    ticket_id: str
    number: str
    customer_id: str
    level: Literal["warning", "breached"]
    due_at: datetime | None
    queue: str
    wilaya_code: str | None
    assignee_id: str | None


class NoteAdded(BaseModel):
    ticket_id: str
    number: str
    customer_id: str
    note_id: str
    public: bool
    # Only public notes carry their text; internal notes never leave the service.
    text: str | None
    # Set when a partner opened the ticket (its webhooks hear the public notes of its own).
    partner_id: str | None = None


class TicketRelocated(BaseModel):
    """The ticket now belongs to another wilaya: its customer moved (or a reform moved
    their commune); the queue members and the scope of that wilaya apply."""

    ticket_id: str
    number: str
    customer_id: str
    from_wilaya_code: str | None
    wilaya_code: str
    reason: str | None = None


# Names of places in each language, for the members that name one: {"area_label": {"fr":
# "Bou Saada", "ar": "بوسعادة", "en": "Bou Saada"}}; notify renders the recipient's.
PlaceNames = dict[str, dict[str, str]]


class IncidentCustomerAffected(BaseModel):
    incident_id: str
    customer_id: str
    service: str
    # In French; `i18n` has it in every language.
    area_label: str
    estimated_end_at: datetime
    i18n: PlaceNames = {}
    # The place each member of `i18n` names ("commune:2801"): notify names it as its map
    # says when it sends (an admin may have renamed it since).
    places: dict[str, str] = {}


class IncidentCustomerRestored(BaseModel):
    incident_id: str
    customer_id: str
    service: str
    area_label: str
    i18n: PlaceNames = {}
    places: dict[str, str] = {}


class SurveyAnswered(BaseModel):
    ticket_id: str
    customer_id: str
    csat: int | None
    nps: int | None
    recommend: str | None = None
    # An agent recorded the customer's answer on a call (the customer may still answer
    # themself later: a new event then replaces this one's figures).
    recorded_on_call: bool = False


class AgencyRelocated(BaseModel):
    """An agency now belongs to another wilaya (a reform carved its commune out,
    ``reason: "reform-2025"``, or an admin moved its commune, ``"map-edit"``): its hours and
    its tickets' due dates go with it. Keyed by the agency code (about no customer)."""

    agency_code: str
    name: str
    commune_code: str | None
    from_wilaya_code: str
    wilaya_code: str
    reason: str
    actor: str


class IncidentRelocated(BaseModel):
    """An active incident over a commune or daïra now belongs to another wilaya (a reform,
    ``reason: "reform-2025"``, or an admin's move of its commune, ``"map-edit"``): that
    wilaya's agents see it. Keyed by the incident id (about no customer)."""

    incident_id: str
    area_kind: str
    area_value: str
    area_label: str
    from_wilaya_code: str
    wilaya_code: str
    reason: str
    actor: str


class HubSubscriptionChanged(BaseModel):
    """A partner's TMF621 hub subscription, for notify to deliver the matching events."""

    subscription_id: str
    partner_id: str
    callback: str
    query: str | None
    active: bool
    # The TMF621 events the listener wants (from the query's eventType terms).
    event_types: list[str] = []
    # "own": the tickets this partner opened; "all": every ticket (an administrator's).
    reach: Literal["own", "all"] = "own"


TICKET_OPENED = declare_event(
    "tickets.ticket.opened",
    TicketOpened,
    "A complaint or request was opened; carries its number and the committed due date.",
)
TICKET_STATUS_CHANGED = declare_event(
    "tickets.ticket.status_changed",
    TicketStatusChanged,
    "A ticket moved in its lifecycle (waiting on you, resolved, closed...); who and why.",
)
TICKET_ASSIGNED = declare_event(
    "tickets.ticket.assigned",
    TicketAssigned,
    "A ticket was given to an agent of its queue (by a supervisor or automatically).",
)
TICKET_ESCALATED = declare_event(
    "tickets.ticket.escalated",
    TicketEscalated,
    "A ticket reached 75 % of its allowed time (warning) or its due date (breached).",
)
NOTE_ADDED = declare_event(
    "tickets.note.added",
    NoteAdded,
    "A note was added to a ticket; public notes carry their text, internal ones do not.",
)
TICKET_RELOCATED = declare_event(
    "tickets.ticket.relocated",
    TicketRelocated,
    "A ticket moved to another wilaya with its customer (a move, or the 2025 reform).",
)
INCIDENT_CUSTOMER_AFFECTED = declare_event(
    "tickets.incident.customer_affected",
    IncidentCustomerAffected,
    "A declared network incident affects this customer's area and service.",
)
INCIDENT_CUSTOMER_RESTORED = declare_event(
    "tickets.incident.customer_restored",
    IncidentCustomerRestored,
    "The network incident that affected this customer is resolved.",
)
SURVEY_ANSWERED = declare_event(
    "tickets.survey.answered",
    SurveyAnswered,
    "The customer answered the satisfaction survey of a resolved ticket.",
)
HUB_SUBSCRIPTION_CHANGED = declare_event(
    "tickets.hub_subscription.changed",
    HubSubscriptionChanged,
    "A partner registered or removed a TMF621 event subscription (keyed by partner id).",
)
AGENCY_RELOCATED = declare_event(
    "tickets.agency.relocated",
    AgencyRelocated,
    "A reform or an admin's move of its commune moved an agency to another wilaya "
    "(keyed by the agency code; no customer's).",
)
INCIDENT_RELOCATED = declare_event(
    "tickets.incident.relocated",
    IncidentRelocated,
    "A reform or an admin's move of its commune moved an active incident to another wilaya "
    "(keyed by the incident id; no customer's).",
)
