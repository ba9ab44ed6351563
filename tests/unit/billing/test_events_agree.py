"""Billing's events, notify's routes and identity's timeline summaries name the same things."""

from __future__ import annotations

from sila_billing import events  # noqa: F401  (declares billing's events)
from sila_common.events import REGISTRY
from sila_identity.timeline.summaries import SUMMARIES, summarise
from sila_notify.defaults import DEFAULT_ROUTES

BILLING_TYPES = {t for t in REGISTRY if t.startswith("billing.")}


def test_every_route_notify_keeps_for_billing_is_an_event_billing_publishes_with_its_fields() -> (
    None
):
    routes = [r for r in DEFAULT_ROUTES if r.event_type.startswith("billing.")]
    assert routes
    for route in routes:
        assert route.event_type in BILLING_TYPES, route.event_type
        fields = REGISTRY[route.event_type].payload.model_fields
        for template in route.templates:
            assert set(template.variables) <= set(fields), route.event_type


def test_every_billing_event_has_a_timeline_sentence_in_three_languages() -> None:
    assert len(BILLING_TYPES) == 11
    for type_ in BILLING_TYPES:
        assert type_ in SUMMARIES, type_
        assert set(SUMMARIES[type_]) == {"fr", "ar", "en"}


def test_the_timeline_shows_a_bill_amount_in_dinars() -> None:
    data = {"number": "F-202611-00000001", "amount_centimes": 250_000, "due_at": None}
    assert summarise("billing.invoice.issued", data, "fr").startswith(
        "Facture F-202611-00000001 émise : 2\u00a0500,00 DA"
    )
    assert "2,500.00 DZD" in summarise("billing.invoice.issued", data, "en")
