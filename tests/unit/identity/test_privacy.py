"""What erasure removes from stored event data."""

from __future__ import annotations

from sila_identity.domain.privacy import scrub


def test_personal_members_are_removed_and_the_rest_kept() -> None:
    data = {
        "customer_id": "c1",
        "display_name": "Karim",
        "phone": "+213550123456",
        "number": "TT-2026-000001",
        "status": "resolved",
        "subject": "Pas de connexion",
    }
    assert scrub(data) == {"customer_id": "c1", "number": "TT-2026-000001", "status": "resolved"}


def test_nested_personal_members_are_removed_too() -> None:
    assert scrub({"contact": {"email": "a@b.dz", "channel": "sms"}}) == {
        "contact": {"channel": "sms"}
    }
