"""Reference-row shapes: an SLA policy's key and row (the admin API writes them), the data
folder (the field study's questionnaire) and the post-resolution survey's document.

Migration 0002 carries its own frozen copy of the rows it loaded; it does not import this.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sila_tickets.domain.sla import SlaPolicy

DATA_DIR = Path(__file__).parent / "data"


def policy_key(category: str, subcategory: str | None, priority: str | None) -> str:
    return f"{category}/{subcategory or '*'}/{priority or '*'}"


def policy_row(policy: SlaPolicy, now: datetime) -> dict[str, Any]:
    return {
        "key": policy_key(policy.category.value, policy.subcategory, policy.priority),
        "category": policy.category.value,
        "subcategory": policy.subcategory,
        "priority": policy.priority.value if policy.priority else None,
        "first_response_kind": policy.first_response.kind.value,
        "first_response_amount": policy.first_response.amount,
        "resolution_kind": policy.resolution.kind.value,
        "resolution_amount": policy.resolution.amount,
        "updated_at": now,
    }


def ticket_survey_document() -> dict[str, Any]:
    """The survey sent after resolution: CSAT, NPS, would-recommend and a free comment."""
    return {
        "title": "Votre avis sur le traitement de votre demande",
        "language": "fr",
        "questions": [
            {
                "key": "csat",
                "text": "Êtes-vous satisfait(e) du traitement ?",
                "type": "scale",
                "min": 1,
                "max": 5,
            },
            {
                "key": "nps",
                "text": "Recommanderiez-vous Algérie Télécom (0 à 10) ?",
                "type": "scale",
                "min": 0,
                "max": 10,
            },
            {
                "key": "recommend",
                "text": "Recommanderiez-vous nos services ?",
                "type": "single_choice",
                "options": ["yes", "no", "maybe"],
            },
            {"key": "comment", "text": "Un commentaire ?", "type": "open"},
        ],
    }
