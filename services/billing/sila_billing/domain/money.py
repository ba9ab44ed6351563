"""Money in integer centimes of DZD (1 DZD = 100 centimes): never floats."""

from __future__ import annotations

from typing import Final

CURRENCY: Final = "DZD"
# ISO 4217 numeric code of the Algerian dinar, as SATIM's gateway wants it.
CURRENCY_NUMERIC: Final = "012"
# No bill, recharge or refund of Sila's customers comes near this (10 million DZD).
MAX_AMOUNT_CENTIMES: Final = 1_000_000_000


class AmountError(ValueError):
    """An amount that is not a positive whole number of centimes within the bounds."""


def check_amount(amount_centimes: object) -> int:
    """The amount if it is a positive integer of centimes below the ceiling."""
    if isinstance(amount_centimes, bool) or not isinstance(amount_centimes, int):
        raise AmountError("an amount is a whole number of centimes")
    if amount_centimes <= 0:
        raise AmountError("an amount must be positive")
    if amount_centimes > MAX_AMOUNT_CENTIMES:
        raise AmountError(f"an amount above {MAX_AMOUNT_CENTIMES} centimes is refused")
    return amount_centimes


def format_dzd(amount_centimes: int, language: str = "fr") -> str:
    """``1 234,50 DA`` (fr), ``1,234.50 DZD`` (en), ``1 234,50 دج`` (ar)."""
    sign = "-" if amount_centimes < 0 else ""
    dinars, centimes = divmod(abs(amount_centimes), 100)
    if language == "en":
        return f"{sign}{dinars:,}.{centimes:02d} DZD"
    grouped = f"{dinars:,}".replace(",", "\u00a0")
    unit = "دج" if language == "ar" else "DA"
    return f"{sign}{grouped},{centimes:02d} {unit}"
