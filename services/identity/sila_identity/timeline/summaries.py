"""The one-line human summary of a timeline entry, in the reader's language (fr, ar, en).

Entries store the event's data; the sentence is rendered when read, so a template fix
or a new language applies to the whole history at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Language = str

# type -> language -> template; placeholders name fields of the event's data.
SUMMARIES: dict[str, dict[Language, str]] = {
    "identity.customer.registered": {
        "fr": "Client enregistré : {display_name}",
        "ar": "تم تسجيل الزبون: {display_name}",
        "en": "Customer registered: {display_name}",
    },
    "identity.contract.signed": {
        "fr": "Contrat {number} souscrit ({offer_code})",
        "ar": "تم إبرام العقد {number} ({offer_code})",
        "en": "Contract {number} signed ({offer_code})",
    },
    "identity.interaction.logged": {
        "fr": "Contact {channel} : {reason}",
        "ar": "اتصال عبر {channel}: {reason}",
        "en": "{channel} contact: {reason}",
    },
    "tickets.ticket.opened": {
        "fr": "Réclamation {number} ouverte : {subject} (échéance {due_at_local})",
        "ar": "تم فتح الشكوى {number}: {subject} (الأجل {due_at_local})",
        "en": "Ticket {number} opened: {subject} (due {due_at_local})",
    },
    "tickets.ticket.status_changed": {
        "fr": "Réclamation {number} : {status}",
        "ar": "الشكوى {number}: {status}",
        "en": "Ticket {number}: {status}",
    },
    "notify.message.sent": {
        "fr": "Message {channel} envoyé",
        "ar": "تم إرسال رسالة {channel}",
        "en": "{channel} message sent",
    },
    "notify.message.failed": {
        "fr": "Échec d'envoi du message {channel}",
        "ar": "فشل إرسال رسالة {channel}",
        "en": "{channel} message failed",
    },
}

FALLBACK = {"fr": "Événement {type}", "ar": "حدث {type}", "en": "Event {type}"}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "…"


def summarise(event_type: str, data: Mapping[str, Any], language: Language) -> str:
    templates = SUMMARIES.get(event_type, FALLBACK)
    template = templates.get(language) or templates["fr"]
    values = _Blank({k: v for k, v in data.items() if v is not None})
    values.setdefault("type", event_type)
    if "due_at" in data and "due_at_local" not in data:
        values["due_at_local"] = _local(str(data["due_at"]))
    return template.format_map(values)


def _local(iso: str) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(iso).astimezone(ZoneInfo("Africa/Algiers"))
    except ValueError:
        return iso
    return moment.strftime("%d/%m/%Y %H:%M")
