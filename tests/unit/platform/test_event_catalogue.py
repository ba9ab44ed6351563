"""The event catalogue in docs/ is what the code declares."""

from __future__ import annotations

from sila_common.events import REGISTRY
from sila_local.catalogue import load_registry, stale


def test_the_event_catalogue_and_asyncapi_document_are_up_to_date() -> None:
    assert stale() == [], "run `make docs` and commit docs/events and docs/asyncapi.yaml"


# The notices named by the state they announce, as notify's route has called it from the
# start (billing publishes each once: a line entering its notice window, a bill its due date).
NAMED_BY_STATE = frozenset({"billing.subscription.expiring", "billing.invoice.overdue"})


def test_every_event_type_is_named_service_entity_past_tense_verb() -> None:
    registry = load_registry()
    assert "tickets.ticket.opened" in registry
    assert "identity.customer.registered" in registry
    for name, spec in REGISTRY.items():
        service, _entity, verb = name.split(".")
        assert spec.topic == f"sila.{service}"
        if name in NAMED_BY_STATE:
            continue
        assert verb.endswith(("ed", "sent", "paid", "held", "won", "lost")), name
