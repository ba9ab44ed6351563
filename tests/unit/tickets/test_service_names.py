"""Messages name a service, never its code, in the customer's language."""

from __future__ import annotations

from sila_tickets.domain.incidents import service_names
from sila_tickets.flows.incidents import named_service


def test_known_services_have_a_name_in_every_language() -> None:
    fibre = service_names("fibre")
    assert fibre is not None
    assert fibre == {"fr": "Fibre optique", "ar": "الألياف البصرية", "en": "Fibre"}
    assert service_names(" FIBRE ") == fibre
    assert named_service("all") == {
        "service": {"fr": "tous services", "ar": "جميع الخدمات", "en": "all services"}
    }


def test_an_unknown_code_is_shown_as_typed() -> None:
    assert service_names("satellite") is None
    assert named_service("satellite") == {}
