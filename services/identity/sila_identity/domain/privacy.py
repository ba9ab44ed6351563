"""What erasure removes: the personal fields of a customer and of the events kept about them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

# Event data members that name, locate or contact a person, or repeat what they wrote.
PERSONAL_KEYS: Final = frozenset(
    {
        "display_name",
        "first_name",
        "last_name",
        "first_name_ar",
        "last_name_ar",
        "company_name",
        "name",
        "phone",
        "email",
        "address",
        "commune",
        "national_id",
        "line_number",
        "access_number",
        "installation_address",
        "subject",
        "text",
        "description",
        "comment",
        "notes",
        "code",
        "to",
        "recipient",
    }
)


def scrub(data: Mapping[str, Any]) -> dict[str, Any]:
    """The data without personal members (nested mappings too); the rest is kept."""
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        if key in PERSONAL_KEYS:
            continue
        cleaned[key] = scrub(value) if isinstance(value, Mapping) else value
    return cleaned
