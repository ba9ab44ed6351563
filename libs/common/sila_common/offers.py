"""The one vocabulary of Sila's offers: each offer's code and its name in French, Arabic and
English. Identity accepts a contract for these codes only, billing sells them (its catalogue
adds prices, technology and validity: docs/billing.md), and the timeline names an offer by
its name in the reader's language, never by its code.

A new offer is a new line here (``IDOOM_<TECHNOLOGY>_<SPEED>M``) and the same code in
billing's default range, whose test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Offer:
    code: str
    name_fr: str
    name_ar: str
    name_en: str

    def name(self, language: str) -> str:
        """The offer's name in ``language`` (fr, ar, en; French for any other)."""
        return {"ar": self.name_ar, "en": self.name_en}.get(language, self.name_fr)


# The 2022-2025 residential and professional range of Algérie Télécom (DOMAIN.md).
OFFERS: Final[tuple[Offer, ...]] = (
    Offer("IDOOM_FIXE", "Idoom Fixe", "إيدوم الهاتف الثابت", "Idoom Fixed"),
    Offer(
        "IDOOM_ADSL_10M",
        "Idoom ADSL 10 Mbit/s",
        "إيدوم ADSL بسرعة 10 ميغابت/ثا",
        "Idoom ADSL 10 Mbit/s",
    ),
    Offer(
        "IDOOM_ADSL_20M",
        "Idoom ADSL 20 Mbit/s",
        "إيدوم ADSL بسرعة 20 ميغابت/ثا",
        "Idoom ADSL 20 Mbit/s",
    ),
    Offer(
        "IDOOM_VDSL_50M",
        "Idoom VDSL 50 Mbit/s",
        "إيدوم VDSL بسرعة 50 ميغابت/ثا",
        "Idoom VDSL 50 Mbit/s",
    ),
    Offer(
        "IDOOM_FIBRE_100M",
        "Idoom Fibre 100 Mbit/s",
        "إيدوم الألياف البصرية بسرعة 100 ميغابت/ثا",
        "Idoom Fibre 100 Mbit/s",
    ),
    Offer(
        "IDOOM_FIBRE_300M",
        "Idoom Fibre 300 Mbit/s",
        "إيدوم الألياف البصرية بسرعة 300 ميغابت/ثا",
        "Idoom Fibre 300 Mbit/s",
    ),
    Offer(
        "IDOOM_4G_100GB",
        "Idoom 4G LTE 100 Go",
        "إيدوم 4G LTE بحجم 100 جيغابايت",
        "Idoom 4G LTE 100 GB",
    ),
    Offer("IDOOM_FIXE_PRO", "Idoom Fixe Pro", "إيدوم الهاتف الثابت للمهنيين", "Idoom Fixed Pro"),
    Offer("PACK_MOOHTARIF", "Pack MOOHTARIF", "باقة محترف", "MOOHTARIF pack"),
    Offer(
        "PACK_JEUNES_ENTREPRENEURS",
        "Pack Jeunes Entrepreneurs",
        "باقة المقاولين الشباب",
        "Young Entrepreneurs pack",
    ),
)

OFFERS_BY_CODE: Final[dict[str, Offer]] = {offer.code: offer for offer in OFFERS}
OFFER_CODES: Final[frozenset[str]] = frozenset(OFFERS_BY_CODE)


def offer_of(code: str) -> Offer | None:
    """The offer of ``code``, None for a code Sila does not sell."""
    return OFFERS_BY_CODE.get(code)
