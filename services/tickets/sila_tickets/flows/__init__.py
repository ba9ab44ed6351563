"""Tickets' use cases, one module per concept: the only code that opens transactions and
records events (the HTTP API, TMF621, incidents, the scheduler and the consumers all come
here).

Functions taking a ``session`` run inside the caller's transaction (another use case's);
the others open their own.
"""

from sila_tickets.flows.assignment import assign_ticket
from sila_tickets.flows.incidents import declare_incident, resolve_incident
from sila_tickets.flows.lifecycle import move_ticket, transition
from sila_tickets.flows.notes import note_ticket
from sila_tickets.flows.opening import NewTicket, next_number, open_ticket, open_ticket_once
from sila_tickets.flows.scripts import record_script_answers
from sila_tickets.flows.shared import Caller, history_of, load_ticket
from sila_tickets.flows.surveys import answer_survey, create_questionnaire, respond
from sila_tickets.flows.tmf621 import (
    change_trouble_ticket,
    open_trouble_ticket,
    register_listener,
    remove_listener,
)

__all__ = [
    "Caller",
    "NewTicket",
    "answer_survey",
    "assign_ticket",
    "change_trouble_ticket",
    "create_questionnaire",
    "declare_incident",
    "history_of",
    "load_ticket",
    "move_ticket",
    "next_number",
    "note_ticket",
    "open_ticket",
    "open_ticket_once",
    "open_trouble_ticket",
    "record_script_answers",
    "register_listener",
    "remove_listener",
    "resolve_incident",
    "respond",
    "transition",
]
