"""Format checks for Algerian identifiers: the national identification number (NIN) of a
person, and the trade register (RC) and tax (NIF) numbers of a professional customer.

These are form checks only. None of these numbers can be proven genuine offline: no
check-digit algorithm has been published for any of them, and only the issuing
administrations (Interior, CNRC, DGI) can say whether a number was ever assigned.
What each function does verify is stated in its docstring; nothing more should be
assumed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from sila_identity.domain.errors import InvalidValue
from sila_identity.domain.wilayas import MAX_WILAYA_CODE

NIN_LENGTH: Final = 18
NIF_LENGTHS: Final = (15, 20)

# Separators people type or that documents print between digit groups.
_DIGIT_GROUP_SEPARATORS: Final = frozenset(" \t\u00a0\u202f.-")


class InvalidNationalId(InvalidValue):
    """The text cannot be a national identification number (NIN)."""


class InvalidTradeRegisterNumber(InvalidValue):
    """The text does not have the shape of an RC (registre du commerce) number."""


class InvalidTaxId(InvalidValue):
    """The text cannot be a NIF (numéro d'identification fiscale)."""


@dataclass(frozen=True, slots=True)
class NinFields:
    """The positions of a NIN as laid out by executive decree 10-210 (JO no. 54, 19 Sept 2010).

    Informational only: the code tables behind these positions (status codes, commune
    and country codes) and the computation of the control key are not public, so none of
    these values is checked.
    """

    civil_status: str  # 2: sex, bis/ter/presumed act, born in Algeria or abroad, naturalisation
    registration_year: str  # 3: last three digits of the year the birth was registered
    birthplace_code: str  # 4: commune (or country) of birth
    birth_certificate_number: str  # 5
    register_series: str  # 2: series of registers within the year
    control_key: str  # 2: computed by an unpublished algorithm


def normalize_nin(raw: str) -> str:
    """Return the NIN as 18 ASCII digits, or raise InvalidNationalId.

    Verified: after removing spaces, dots and hyphens, exactly 18 decimal digits (Arabic-
    Indic digits are accepted and converted) that are not all zeros.
    Not verified: the control key (its algorithm is not public), the meaning of any
    position (see NinFields), or that the number was ever issued to anyone.
    """
    digits = _digits_only(raw, InvalidNationalId, "national identification number")
    if len(digits) != NIN_LENGTH:
        raise InvalidNationalId(
            f"a national identification number has {NIN_LENGTH} digits, not {len(digits)}"
        )
    if set(digits) == {"0"}:
        raise InvalidNationalId("a national identification number cannot be all zeros")
    return digits


def split_nin(nin: str) -> NinFields:
    """Cut a NIN into its decree positions, for display; the values are not interpreted."""
    digits = normalize_nin(nin)
    return NinFields(
        civil_status=digits[0:2],
        registration_year=digits[2:5],
        birthplace_code=digits[5:9],
        birth_certificate_number=digits[9:14],
        register_series=digits[14:16],
        control_key=digits[16:18],
    )


def mask_nin(nin: str) -> str:
    """Hide a NIN for logs and screens that do not need it, keeping the last four digits."""
    digits = re.sub(r"\D", "", nin)
    return "*" * max(len(digits) - 4, 0) + digits[-4:]


@dataclass(frozen=True, slots=True)
class TradeRegisterNumber:
    """An RC number as printed on a CNRC extract, e.g. "16/00-1234567 B 18"."""

    wilaya_code: str
    segment: str
    sequence: str
    letter: str
    year: str

    def __str__(self) -> str:
        return f"{self.wilaya_code}/{self.segment}-{self.sequence} {self.letter} {self.year}"


_TRADE_REGISTER_PATTERN: Final = re.compile(
    r"""
    (?P<wilaya>\d{2}) \s* / \s*
    (?P<segment>\d{2}) \s* -? \s*
    (?P<sequence>\d{5,8}) \s* -? \s*
    (?P<letter>[A-Z]) \s* -? \s*
    (?P<year>\d{2})
    """,
    re.VERBOSE,
)


def parse_trade_register_number(raw: str) -> TradeRegisterNumber:
    """Read an RC number written "WW/SS-NNNNNNN L YY", tolerant of spacing and dash style.

    Verified: the shape (two-digit wilaya code, "/", a two-digit segment, a 5 to 8 digit
    sequence, one letter, a two-digit year) and that the wilaya code is between 01 and
    the highest code in law. Not verified: the segment (usually "00"), the letter (in
    practice "A" for a natural person and "B" for a company; other letters are kept as
    given, not interpreted), or that the CNRC ever registered the number: the CNRC
    publishes no check digit and the sequence is kept exactly as typed.
    """
    text = unicodedata.normalize("NFKC", raw).upper().strip()
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)
    text = _to_ascii_digits(text)
    match = _TRADE_REGISTER_PATTERN.fullmatch(text)
    if match is None:
        raise InvalidTradeRegisterNumber(
            "an RC number reads like 16/00-1234567 B 18 "
            "(wilaya code / segment - sequence, letter, year)"
        )
    wilaya_code = match["wilaya"]
    if not 1 <= int(wilaya_code) <= MAX_WILAYA_CODE:
        raise InvalidTradeRegisterNumber(f"{wilaya_code} is not a wilaya code")
    return TradeRegisterNumber(
        wilaya_code=wilaya_code,
        segment=match["segment"],
        sequence=match["sequence"],
        letter=match["letter"],
        year=match["year"],
    )


def normalize_nif(raw: str) -> str:
    """Return a NIF as its ASCII digits, or raise InvalidTaxId.

    Verified: 15 or 20 decimal digits after removing spaces, dots and hyphens, not all
    zeros. Published sources disagree on which taxpayers get 15 digits and which get 20,
    so the length is not used to guess whether the holder is a person or a company.
    Not verified: any check digit (none is published) or that the DGI issued the number.
    """
    digits = _digits_only(raw, InvalidTaxId, "tax identification number")
    if len(digits) not in NIF_LENGTHS:
        raise InvalidTaxId(f"a NIF has 15 or 20 digits, not {len(digits)}")
    if set(digits) == {"0"}:
        raise InvalidTaxId("a NIF cannot be all zeros")
    return digits


def _digits_only(raw: str, error: type[InvalidValue], what: str) -> str:
    kept = "".join(char for char in raw if char not in _DIGIT_GROUP_SEPARATORS)
    if not kept:
        raise error(f"the {what} is empty")
    for char in kept:
        if unicodedata.category(char) != "Nd":
            raise error(f"unexpected character {char!r} in the {what}")
    return _to_ascii_digits(kept)


def _to_ascii_digits(text: str) -> str:
    return "".join(
        str(unicodedata.digit(char)) if unicodedata.category(char) == "Nd" else char
        for char in text
    )
