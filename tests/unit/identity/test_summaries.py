"""Every event type of the shared contract reads as a sentence in French, Arabic and English."""

from __future__ import annotations

from typing import Any

import pytest

from sila_identity.timeline.summaries import LANGUAGES, summarise

CONTRACT_EVENTS: dict[str, dict[str, Any]] = {
    "identity.customer.registered": {"display_name": "Karim Kaci", "channel": "agency"},
    "identity.customer.updated": {"changed": ["email", "phone"]},
    "identity.customer.erased": {"customer_id": "c"},
    "identity.consent.changed": {"purpose": "marketing", "channel": "sms", "granted": True},
    "identity.otp.requested": {"phone": "+213550123456"},
    "identity.interaction.logged": {
        "channel": "callback",
        "direction": "outbound",
        "reason": "satisfaction_check",
        "outcome": "resolved",
    },
    "identity.contract.signed": {"number": "AT-15-2026-0000001-3", "offer_code": "IDOOM_ADSL_20M"},
    "tickets.ticket.opened": {
        "number": "TT-2026-000001",
        "subject": "Pas de connexion",
        "due_at": "2026-03-03T18:00:00+01:00",
    },
    "tickets.ticket.status_changed": {"number": "TT-2026-000001", "status": "pending_customer"},
    "tickets.ticket.assigned": {"number": "TT-2026-000001", "queue": "technical"},
    "tickets.ticket.escalated": {
        "number": "TT-2026-000001",
        "level": "breached",
        "due_at": "2026-03-03T18:00:00+01:00",
    },
    "tickets.note.added": {"number": "TT-2026-000001", "public": True},
    "tickets.incident.customer_affected": {
        "service": "ADSL",
        "area_label": "Azazga",
        "estimated_end_at": "2026-03-03T20:00:00+01:00",
    },
    "tickets.incident.customer_restored": {"service": "ADSL", "area_label": "Azazga"},
    "tickets.survey.answered": {"csat": 4, "nps": 9},
    "notify.message.sent": {"channel": "sms"},
    "notify.message.delivered": {"channel": "sms"},
    "notify.message.failed": {"channel": "email", "reason": "bounced"},
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event_type", sorted(CONTRACT_EVENTS))
def test_each_contract_event_has_a_complete_sentence(event_type: str, language: str) -> None:
    sentence = summarise(event_type, CONTRACT_EVENTS[event_type], language)
    assert "…" not in sentence, sentence
    assert "{" not in sentence
    assert "_" not in sentence, f"a raw code leaked: {sentence}"


def test_coded_values_are_shown_in_the_readers_language() -> None:
    data = CONTRACT_EVENTS["tickets.ticket.status_changed"]
    assert summarise("tickets.ticket.status_changed", data, "fr") == (
        "Réclamation TT-2026-000001 : en attente de votre réponse"
    )
    assert summarise("tickets.ticket.status_changed", data, "en") == (
        "Ticket TT-2026-000001: waiting on you"
    )
    assert "في انتظار ردكم" in summarise("tickets.ticket.status_changed", data, "ar")


def test_due_times_are_shown_in_algiers_time() -> None:
    data = {"number": "TT-1", "subject": "x", "due_at": "2026-03-03T17:00:00Z"}
    assert "03/03/2026 18:00" in summarise("tickets.ticket.opened", data, "fr")


def test_consent_reads_differently_when_given_and_withdrawn() -> None:
    given = {"purpose": "marketing", "channel": "sms", "granted": True}
    withdrawn = given | {"granted": False}
    assert summarise("identity.consent.changed", given, "en").startswith("Consent given")
    assert summarise("identity.consent.changed", withdrawn, "en").startswith("Consent withdrawn")


def test_an_unknown_event_still_reads_and_missing_members_show_an_ellipsis() -> None:
    assert summarise("billing.statement.archived", {}, "fr") == (
        "Événement facturation : billing.statement.archived"
    )
    assert summarise("tickets.ticket.assigned", {}, "en") == "Ticket … assigned to the … team"


def test_an_unserved_language_falls_back_to_french() -> None:
    assert summarise("identity.customer.erased", {}, "kab").startswith("Données personnelles")


def test_loyalty_events_read_in_three_languages_and_a_compensation_names_its_ticket() -> None:
    from sila_identity.timeline.summaries import summarise

    grant = {"reward_label": "5 heures offertes", "ticket_number": "TT-2026-000042"}
    assert summarise("loyalty.reward.granted", grant, "fr") == (
        "Compensation pour la réclamation TT-2026-000042 (délai dépassé) : 5 heures offertes"
    )
    assert "TT-2026-000042" in summarise("loyalty.reward.granted", grant, "ar")
    assert summarise("loyalty.reward.granted", {"reward_label": "100 points"}, "en") == (
        "Loyalty reward: 100 points"
    )
    assert summarise("loyalty.tier.changed", {"tier": "gold"}, "ar") == "مستوى الوفاء: ذهبي"
    assert summarise("loyalty.points.expired", {"points": 40}, "en") == "40 points expired"


def test_places_are_named_in_the_readers_language_never_by_their_codes() -> None:
    moved = {
        "changed": ["commune_code", "wilaya_code"],
        "reason": "reform",
        "wilaya_code": "64",
        "commune_code": "6410",
    }
    french = summarise("identity.customer.updated", moved, "fr")
    assert "Bou Saâda" in french and "Bou Saada" in french and "64" not in french
    assert "بوسعادة" in summarise("identity.customer.updated", moved, "ar")
    relocated = {"number": "TT-2026-000007", "from_wilaya_code": "28", "wilaya_code": "64"}
    assert summarise("tickets.ticket.relocated", relocated, "en") == (
        "Ticket TT-2026-000007 now handled by the wilaya of Bou Saada"
    )
    affected = {
        "service": "fibre",
        "area_label": "Tipaza",
        "i18n": {"area_label": {"fr": "Tipaza", "ar": "تيبازة", "en": "Tipaza"}},
        "estimated_end_at": "2026-01-12T18:00:00+00:00",
    }
    assert "تيبازة" in summarise("tickets.incident.customer_affected", affected, "ar")
