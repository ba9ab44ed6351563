"""The satisfaction survey link sent at resolution: the portal's page of the ticket, where the
customer answers, configured per deployment (never the API's endpoint)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sila_tickets.flows.lifecycle import survey_url
from sila_tickets.settings import TicketsSettings


def test_the_link_is_the_configured_portal_page_of_the_ticket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "SILA_TICKETS_PORTAL_SURVEY_URL",
        "https://espace-client.algerietelecom.dz/reclamations/{ticket_id}/avis",
    )
    link = survey_url(TicketsSettings(), "5f0c6a4e-0000-4000-8000-000000000001")
    assert link == (
        "https://espace-client.algerietelecom.dz/reclamations/"
        "5f0c6a4e-0000-4000-8000-000000000001/avis"
    )


@pytest.mark.parametrize(
    "template", ["https://espace-client.example.dz/avis", "espace-client/{ticket_id}"]
)
def test_a_page_that_does_not_name_the_ticket_is_refused_at_start(template: str) -> None:
    with pytest.raises(ValidationError):
        TicketsSettings(portal_survey_url=template)
