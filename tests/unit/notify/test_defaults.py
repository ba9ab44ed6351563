"""The messages Sila sends out of the box: every template valid, in ar, fr and en."""

from datetime import UTC, datetime

import pytest

from sila_notify.defaults import CAMPAIGN_TEMPLATES, DEFAULT_ROUTES
from sila_notify.domain.sms import count_sms
from sila_notify.domain.templates import Language, render, validate_template
from sila_notify.template_store import coerce_all, localised, used_in

SAMPLES = {
    "code": "482913",
    "expires_at": "2026-01-12T13:35:00+00:00",
    "number": "TT-2026-000123",
    "due_at": "2026-01-14T16:00:00+00:00",
    "survey_url": "https://sila.example/s/abc",
    "service": "ADSL",
    "area_label": "Tizi Ouzou centre",
    "estimated_end_at": "2026-01-12T18:00:00+00:00",
    "amount_centimes": 250050,
    "reward_label": "1 Go",
    "tier": "Or",
    "offer": "Fibre 300 Mb/s",
    "points": 500,
}
ALL = [(r.event_type, t) for r in DEFAULT_ROUTES for t in r.templates] + CAMPAIGN_TEMPLATES


@pytest.mark.parametrize(("event_type", "template"), ALL, ids=[f"{e}:{t.variant}" for e, t in ALL])
def test_every_default_template_is_valid_and_renders_in_every_language(event_type, template):
    assert set(template.texts) == {"ar", "fr", "en"}
    values = coerce_all(template.variables, SAMPLES)
    for language, (subject, body) in template.texts.items():
        assert validate_template(body, template.variables) == [], (event_type, language)
        assert render(body, template.variables, values, language)
        assert render(subject, used_in(subject, template.variables), values, language)


def test_every_event_the_issue_names_speaks() -> None:
    spoken = {route.event_type for route in DEFAULT_ROUTES}
    assert {
        "identity.otp.requested",
        "tickets.ticket.opened",
        "tickets.ticket.status_changed",
        "tickets.incident.customer_affected",
        "tickets.incident.customer_restored",
        "billing.invoice.issued",
        "billing.invoice.overdue",
        "billing.payment.succeeded",
        "billing.payment.failed",
        "billing.subscription.expiring",
        "billing.subscription.expired",
        "billing.idoomly.granted",
        "loyalty.reward.granted",
        "loyalty.tier.changed",
    } <= spoken


def test_ticket_status_messages_cover_waiting_on_you_resolved_and_closed() -> None:
    route = next(r for r in DEFAULT_ROUTES if r.event_type == "tickets.ticket.status_changed")
    assert {t.variant for t in route.templates} == {"pending_customer", "resolved", "closed"}
    assert route.condition == {"status": ["pending_customer", "resolved", "closed"]}


def test_the_french_otp_sms_fits_one_cheap_gsm_segment() -> None:
    route = next(r for r in DEFAULT_ROUTES if r.event_type == "identity.otp.requested")
    template = route.templates[0]
    body = render(
        template.texts["fr"][1],
        template.variables,
        {"code": "482913", "expires_at": datetime(2026, 1, 12, 13, 35, tzinfo=UTC)},
        "fr",
    )
    cost = count_sms(body)
    assert (cost.encoding, cost.segments) == ("GSM-7", 1)
    assert route.urgent and route.lane == "otp" and route.channels == ("sms",)


def test_an_incident_message_names_the_place_in_the_customers_language() -> None:
    [route] = [r for r in DEFAULT_ROUTES if r.event_type == "tickets.incident.customer_affected"]
    [template] = route.templates
    data = {
        "service": "fibre",
        "area_label": "Tipaza",
        "i18n": {"area_label": {"fr": "Tipaza", "ar": "تيبازة", "en": "Tipaza"}},
        "estimated_end_at": "2026-01-12T18:00:00+00:00",
    }
    bodies: dict[str, str] = {}
    languages: tuple[Language, ...] = ("fr", "ar", "en")
    for language in languages:
        body = template.texts[language][1]
        values = coerce_all(template.variables, localised(data, language))
        bodies[language] = render(body, template.variables, values, language)
    assert "perturbation fibre à Tipaza" in bodies["fr"]
    assert "في تيبازة" in bodies["ar"] and "Tipaza" not in bodies["ar"]
    assert "wilaya" not in bodies["fr"] and "42" not in bodies["fr"]
