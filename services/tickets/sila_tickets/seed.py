"""The reference rows the migration loads: subcategories, SLA policies, queues, questionnaires.

Kept as functions of the domain's seed data so the migration and the tests agree.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sila_tickets.domain.catalogue import SUBCATEGORIES
from sila_tickets.domain.routing import QUEUES, AssignmentStrategy
from sila_tickets.domain.sla import SlaPolicy, default_policies

DATA_DIR = Path(__file__).parent / "data"
THESIS_QUESTIONNAIRE = "thesis-2025"
TICKET_SURVEY = "ticket-satisfaction"

QUEUE_LABELS = {
    "technical": "Service technique",
    "billing": "Facturation et administratif",
    "commercial": "Service commercial",
}


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


def policy_rows() -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [policy_row(policy, now) for policy in default_policies()]


def subcategory_rows() -> list[dict[str, Any]]:
    return [
        {
            "code": sub.code,
            "category": sub.category.value,
            "label_fr": sub.label_fr,
            "label_en": sub.label_en,
            "script": [question.as_document() for question in sub.script],
            "active": True,
        }
        for sub in SUBCATEGORIES
    ]


def queue_rows() -> list[dict[str, Any]]:
    return [
        {"code": code, "label": QUEUE_LABELS[code], "strategy": AssignmentStrategy.ROUND_ROBIN}
        for code in QUEUES
    ]


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


def questionnaire_rows() -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    thesis = json.loads((DATA_DIR / "questionnaire-thesis.json").read_text(encoding="utf-8"))
    survey = ticket_survey_document()
    return [
        {
            "code": code,
            "title": doc["title"],
            "language": doc["language"],
            "document": doc,
            "created_at": now,
        }
        for code, doc in ((TICKET_SURVEY, survey), (THESIS_QUESTIONNAIRE, thesis))
    ]
