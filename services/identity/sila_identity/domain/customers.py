"""Customer value types: kind, lifecycle status, preferred language, and contract numbers
that carry a check digit so a mistyped number is refused instead of finding someone else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sila_identity.domain.errors import InvalidValue
from sila_identity.domain.wilayas import format_wilaya_code


class CustomerKind(StrEnum):
    """Residential customers ("particuliers") and professionals (companies, traders)."""

    RESIDENTIAL = "residential"
    PROFESSIONAL = "professional"


class CustomerStatus(StrEnum):
    PROSPECT = "prospect"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class InvalidStatusTransition(InvalidValue):
    """The customer cannot go from its current status to the requested one."""


# Closed is final: a former customer who comes back is served through a new contract,
# which keeps the history of the closed relationship intact.
_ALLOWED_TRANSITIONS: Final[dict[CustomerStatus, frozenset[CustomerStatus]]] = {
    CustomerStatus.PROSPECT: frozenset({CustomerStatus.ACTIVE, CustomerStatus.CLOSED}),
    CustomerStatus.ACTIVE: frozenset({CustomerStatus.SUSPENDED, CustomerStatus.CLOSED}),
    CustomerStatus.SUSPENDED: frozenset({CustomerStatus.ACTIVE, CustomerStatus.CLOSED}),
    CustomerStatus.CLOSED: frozenset(),
}


def allowed_transitions(current: CustomerStatus) -> frozenset[CustomerStatus]:
    """The statuses a customer in `current` may move to (staying put is not a transition)."""
    return _ALLOWED_TRANSITIONS[current]


def can_transition(current: CustomerStatus, target: CustomerStatus) -> bool:
    return target in _ALLOWED_TRANSITIONS[current]


def ensure_transition(current: CustomerStatus, target: CustomerStatus) -> CustomerStatus:
    """Return `target` if the move is allowed, else raise InvalidStatusTransition."""
    if not can_transition(current, target):
        raise InvalidStatusTransition(f"a {current} customer cannot become {target}")
    return target


class UnsupportedLanguage(InvalidValue):
    """The customer asked for a language Sila does not serve."""


class Language(StrEnum):
    """Languages a customer can choose for messages and the customer portal.

    Tamazight is an official language of Algeria and is widely spoken in Tizi-Ouzou, but
    no message templates exist for it yet; it will be added (as "kab" for Kabyle, or
    "zgh"/"ber" depending on the script and variety chosen) when templates are written.
    """

    ARABIC = "ar"
    FRENCH = "fr"
    ENGLISH = "en"

    @property
    def is_right_to_left(self) -> bool:
        return self is Language.ARABIC

    @classmethod
    def from_tag(cls, tag: str) -> Language:
        """Read a language tag as browsers and phones send it ("fr-DZ", "ar_DZ", "EN")."""
        primary = re.split(r"[-_]", tag.strip(), maxsplit=1)[0].lower()
        try:
            return cls(primary)
        except ValueError:
            supported = ", ".join(language.value for language in cls)
            raise UnsupportedLanguage(f"unsupported language {tag!r} (use {supported})") from None


# --- Contract numbers -------------------------------------------------------------------
#
# "AT-16-2026-0001234-7": operator, wilaya of the contract, year, sequence within the
# wilaya and year, then a Damm check digit over all the digits. Damm catches every
# single-digit error and every swap of two adjacent digits (Luhn misses 09 <-> 90), the
# two mistakes agents make when reading a number over the phone.

CONTRACT_PREFIX: Final = "AT"
SEQUENCE_DIGITS: Final = 7
MAX_SEQUENCE: Final = 10**SEQUENCE_DIGITS - 1
MIN_YEAR: Final = 2000
MAX_YEAR: Final = 2099

_DAMM_TABLE: Final = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

# Agents type these with spaces, without dashes, in lower case, or without the prefix.
_CONTRACT_PATTERN: Final = re.compile(
    r"(?:AT[\s-]*)?(?P<wilaya>\d{2})[\s-]*(?P<year>\d{4})[\s-]*"
    r"(?P<sequence>\d{7})[\s-]*(?P<check>\d)",
    re.ASCII,
)


class InvalidContractNumber(InvalidValue):
    """The text is not a well-formed contract number, or its check digit does not match."""


@dataclass(frozen=True, slots=True)
class ContractNumber:
    wilaya_code: str
    year: int
    sequence: int

    @property
    def check_digit(self) -> int:
        return damm_check_digit(self._payload_digits())

    def __str__(self) -> str:
        return (
            f"{CONTRACT_PREFIX}-{self.wilaya_code}-{self.year}-{self.sequence:07d}"
            f"-{self.check_digit}"
        )

    def _payload_digits(self) -> str:
        return f"{self.wilaya_code}{self.year}{self.sequence:07d}"


def make_contract_number(wilaya_code: str | int, year: int, sequence: int) -> str:
    """Format a new contract number, e.g. make_contract_number("16", 2026, 1234).

    The sequence is allocated by the caller (a database sequence per wilaya and year).
    """
    try:
        code = format_wilaya_code(wilaya_code)
    except InvalidValue as error:
        raise InvalidContractNumber(error.reason) from None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidContractNumber(f"contract year {year} is outside {MIN_YEAR}-{MAX_YEAR}")
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise InvalidContractNumber(f"contract sequence {sequence} is outside 1-{MAX_SEQUENCE}")
    return str(ContractNumber(wilaya_code=code, year=year, sequence=sequence))


def parse_contract_number(text: str) -> ContractNumber:
    """Read a contract number as typed ("at 16 2026 0001234 7" is fine).

    Raises InvalidContractNumber when the shape is wrong or the check digit does not
    match, which is what a mistyped or misheard digit produces.
    """
    match = _CONTRACT_PATTERN.fullmatch(text.strip().upper())
    if match is None:
        raise InvalidContractNumber(
            "a contract number reads like AT-16-2026-0001234-7 "
            "(wilaya, year, 7-digit sequence, check digit)"
        )
    digits = match["wilaya"] + match["year"] + match["sequence"] + match["check"]
    if not is_damm_valid(digits):
        raise InvalidContractNumber("the check digit does not match: the number was mistyped")
    try:
        code = format_wilaya_code(match["wilaya"])
    except InvalidValue as error:
        raise InvalidContractNumber(error.reason) from None
    year, sequence = int(match["year"]), int(match["sequence"])
    if not MIN_YEAR <= year <= MAX_YEAR or sequence == 0:
        raise InvalidContractNumber("this contract number was never issued")
    return ContractNumber(wilaya_code=code, year=year, sequence=sequence)


def damm_check_digit(digits: str) -> int:
    """The Damm check digit of a string of ASCII digits."""
    interim = 0
    for digit in digits:
        interim = _DAMM_TABLE[interim][int(digit)]
    return interim


def is_damm_valid(digits_with_check: str) -> bool:
    """True when the last digit is the Damm check digit of the others."""
    return damm_check_digit(digits_with_check) == 0


def display_name(
    *,
    first_name: str | None,
    last_name: str | None,
    first_name_ar: str | None = None,
    last_name_ar: str | None = None,
    company_name: str | None = None,
) -> str:
    """How agents and messages name the customer: the company, else the Latin name, else
    the Arabic one."""
    if company_name:
        return company_name
    latin = " ".join(part for part in (first_name, last_name) if part)
    return latin or " ".join(part for part in (first_name_ar, last_name_ar) if part)


_ARABIC_LETTER = re.compile(r"[\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
_NAME_PUNCTUATION = frozenset(" -'’.")


class InvalidName(InvalidValue):
    """A name is empty, in the wrong script, or holds characters names do not have."""


def clean_name(value: str, *, script: str) -> str:
    """A name as stored: trimmed, single-spaced, in the expected script ("latin"/"arabic").

    Latin fields hold the French spelling agents type; Arabic fields the Arabic spelling.
    Digits and symbols are refused in both.
    """
    text = " ".join(value.split())
    if not text:
        raise InvalidName("the name is empty")
    letters = _ARABIC_LETTER if script == "arabic" else _LATIN_LETTER
    other = _LATIN_LETTER if script == "arabic" else _ARABIC_LETTER
    if other.search(text):
        raise InvalidName(f"this field takes a name in {script} script")
    if not letters.search(text):
        raise InvalidName(f"the name has no {script} letter")
    for char in text:
        if not (char.isalpha() or char in _NAME_PUNCTUATION or "\u064b" <= char <= "\u0652"):
            raise InvalidName(f"unexpected character {char!r} in the name")
    return text


def check_identity(kind: str, values: dict[str, object]) -> None:
    """The names and company details a customer of this kind must (and must not) have."""
    if kind == "professional":
        if not values.get("company_name"):
            raise ValueError("a professional customer needs company_name")
        return
    if not (
        (values.get("first_name") and values.get("last_name"))
        or (values.get("first_name_ar") and values.get("last_name_ar"))
    ):
        raise ValueError("a residential customer needs a first and last name (Latin or Arabic)")
    for field in ("company_name", "legal_form", "trade_register_number", "tax_id"):
        if values.get(field):
            raise ValueError(f"{field} is for professional customers")
