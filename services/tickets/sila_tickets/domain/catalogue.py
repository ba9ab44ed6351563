"""Reference data: the subcategories of each category and the agent script of each.

The scripts are the field study's "scripts adaptés": the guided questions and checks an
agent goes through for a kind of request. This module is the seed the migration loads;
the service reads the table afterwards, so the lists can grow without a release.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sila_tickets.domain.sla import TicketCategory


class ScriptAnswerType(enum.StrEnum):
    YES_NO = "yes_no"
    CHOICE = "choice"
    TEXT = "text"
    NUMBER = "number"


@dataclass(frozen=True)
class ScriptQuestion:
    key: str
    text: str
    type: ScriptAnswerType
    options: tuple[str, ...] = ()
    required: bool = True

    def as_document(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "text": self.text,
            "type": self.type.value,
            "options": list(self.options),
            "required": self.required,
        }


@dataclass(frozen=True)
class Subcategory:
    code: str
    category: TicketCategory
    label_fr: str
    label_en: str
    label_ar: str
    script: tuple[ScriptQuestion, ...] = field(default_factory=tuple)


def _q(
    key: str, text: str, kind: str = "yes_no", *options: str, required: bool = True
) -> ScriptQuestion:
    return ScriptQuestion(key, text, ScriptAnswerType(kind), tuple(options), required)


_LINE_CHECKS = (
    _q("subscription_active", "L'abonnement est-il actif (recharge valide) ?"),
    _q("modem_restarted", "Le client a-t-il redémarré le modem ?"),
    _q(
        "modem_lights",
        "État des voyants du modem",
        "choice",
        "tous éteints",
        "power seul",
        "DSL/PON clignotant",
        "DSL/PON fixe, internet rouge",
        "tous normaux",
    ),
)

SUBCATEGORIES: tuple[Subcategory, ...] = (
    Subcategory(
        "no_connection",
        TicketCategory.TECHNICAL,
        "Pas de connexion",
        "No connection",
        "انعدام الاتصال",
        (*_LINE_CHECKS, _q("since", "Depuis quand ?", "text")),
    ),
    Subcategory(
        "slow_line",
        TicketCategory.TECHNICAL,
        "Débit lent",
        "Slow line",
        "بطء التدفق",
        (
            _q("subscription_active", "L'abonnement est-il actif (recharge valide) ?"),
            _q("measured_mbps", "Débit mesuré (Mbit/s)", "number"),
            _q("wired_test", "Le test a-t-il été fait en filaire ?"),
            _q("peak_hours_only", "Seulement aux heures de pointe ?", required=False),
        ),
    ),
    Subcategory(
        "line_cut",
        TicketCategory.TECHNICAL,
        "Ligne coupée",
        "Line cut",
        "انقطاع الخط",
        (
            _q("dial_tone", "Y a-t-il une tonalité sur le fixe ?"),
            _q("visible_damage", "Câble visiblement endommagé ?", required=False),
            _q("neighbours_affected", "Les voisins sont-ils touchés ?", required=False),
        ),
    ),
    Subcategory(
        "frequent_disconnections",
        TicketCategory.TECHNICAL,
        "Coupures fréquentes",
        "Frequent disconnections",
        "انقطاعات متكررة",
        (*_LINE_CHECKS, _q("per_day", "Nombre de coupures par jour", "number", required=False)),
    ),
    Subcategory(
        "no_dial_tone",
        TicketCategory.TECHNICAL,
        "Pas de tonalité",
        "No dial tone",
        "انعدام نغمة الخط",
        (_q("other_handset", "Testé avec un autre poste ?"),),
    ),
    Subcategory(
        "billing_dispute",
        TicketCategory.ADMINISTRATIVE,
        "Contestation de facture",
        "Billing dispute",
        "الاعتراض على فاتورة",
        (
            _q("invoice_number", "Numéro de la facture contestée", "text"),
            _q("disputed_amount_dzd", "Montant contesté (DZD)", "number"),
            _q("already_paid", "La facture a-t-elle été payée ?"),
        ),
    ),
    Subcategory(
        "payment_not_credited",
        TicketCategory.ADMINISTRATIVE,
        "Paiement non pris en compte",
        "Payment not credited",
        "عدم احتساب الدفع",
        (
            _q(
                "payment_method",
                "Moyen de paiement",
                "choice",
                "Edahabia",
                "CIB",
                "Khlass/CCP",
                "agence",
            ),
            _q("payment_reference", "Référence du paiement", "text"),
        ),
    ),
    Subcategory(
        "change_of_address",
        TicketCategory.ADMINISTRATIVE,
        "Changement d'adresse",
        "Change of address",
        "تغيير العنوان",
        (
            _q("new_address", "Nouvelle adresse", "text"),
            _q("documents_provided", "Justificatif de domicile fourni ?"),
        ),
    ),
    Subcategory(
        "contract_renewal",
        TicketCategory.ADMINISTRATIVE,
        "Renouvellement de contrat",
        "Contract renewal",
        "تجديد العقد",
        (_q("identity_checked", "Pièce d'identité vérifiée ?"),),
    ),
    Subcategory(
        "subscription_request",
        TicketCategory.COMMERCIAL,
        "Demande d'abonnement",
        "Subscription request",
        "طلب اشتراك",
        (
            _q(
                "offer",
                "Offre souhaitée",
                "choice",
                "Idoom Fixe",
                "Idoom ADSL",
                "Idoom VDSL",
                "Idoom 4G LTE",
                "Idoom Fibre",
            ),
            _q("eligibility_checked", "Éligibilité de la ligne vérifiée ?"),
        ),
    ),
    Subcategory(
        "offer_change",
        TicketCategory.COMMERCIAL,
        "Changement d'offre",
        "Offer change",
        "تغيير العرض",
        (_q("target_offer", "Offre visée", "text"),),
    ),
    Subcategory(
        "promotion_information",
        TicketCategory.COMMERCIAL,
        "Information sur une promotion",
        "Promotion information",
        "استعلام عن عرض ترويجي",
        (),
    ),
)


# The largest number a script answer takes (a disputed amount in DZD, a speed, a count).
MAX_NUMBER_ANSWER = 1_000_000_000
NUMBER_EXPECTED = f"expects a number from 0 to {MAX_NUMBER_ANSWER:,}".replace(",", " ")


class ScriptAnswerError(ValueError):
    """Answers that do not fit the script; `errors` names each field at fault."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def check_script_answers(
    script: Sequence[Mapping[str, Any]], answers: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The answers, checked against the script; returns them and the required keys missing.

    An agent may save a script half done; unknown keys and wrongly typed answers are refused.
    """
    by_key = {str(question["key"]): question for question in script}
    errors: list[dict[str, str]] = []
    clean: dict[str, Any] = {}
    for key, value in answers.items():
        question = by_key.get(key)
        if question is None:
            errors.append({"field": f"answers.{key}", "message": "not a question of this script"})
            continue
        kind = ScriptAnswerType(question["type"])
        problem = _type_problem(kind, value, question.get("options") or [])
        if problem:
            errors.append({"field": f"answers.{key}", "message": problem})
        else:
            clean[key] = value
    if errors:
        raise ScriptAnswerError(errors)
    missing = [key for key, q in by_key.items() if q.get("required", True) and key not in clean]
    return clean, missing


def _type_problem(kind: ScriptAnswerType, value: Any, options: Sequence[str]) -> str | None:
    if kind is ScriptAnswerType.YES_NO:
        return None if isinstance(value, bool) else "expects true or false"
    if kind is ScriptAnswerType.NUMBER:
        # Amounts, speeds and counts: none is negative, none beyond a billion.
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok and 0 <= value <= MAX_NUMBER_ANSWER else NUMBER_EXPECTED
    if kind is ScriptAnswerType.CHOICE:
        return None if value in options else f"expects one of {list(options)}"
    ok = isinstance(value, str) and 0 < len(value) <= 1000
    return None if ok else "expects a text of 1 to 1000 characters"
