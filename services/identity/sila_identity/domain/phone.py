"""Algerian phone numbers: accept what agents and customers type, store E.164, mask for logs.

Validity and the mobile/fixed split come from Google's libphonenumber metadata (the
`phonenumbers` package), not from hand-written prefix tables, so new ranges arrive with
library upgrades.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from sila_identity.domain.errors import InvalidValue

PhoneKind = Literal["mobile", "fixed"]

ALGERIA_REGION: Final = "DZ"
ALGERIA_COUNTRY_CODE: Final = 213

# Letters are refused rather than handed to libphonenumber, which silently drops or
# maps them (a typed "055O123456" would otherwise become a different, shorter number).
_ALLOWED_PUNCTUATION: Final = frozenset(" +-.()/\u00a0\u202f\t")
_MAX_INPUT_LENGTH: Final = 40

_KIND_BY_TYPE: Final[dict[int, PhoneKind]] = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed",
}


class InvalidPhoneNumber(InvalidValue):
    """The text is not a valid Algerian mobile or fixed-line number."""


# libphonenumber compiles its metadata's patterns on each use (through re's cache): keep
# them compiled (a lookup's phone checks ≈ 6 of them).
phonenumbers.enable_pattern_cache()

# The spellings that need no parsing: "+213" or "0", then the national number (8 or 9
# digits, not starting with 0): what the screens send, and the stored form.
_PLAIN: Final = re.compile(r"(?:\+213|0)([1-9][0-9]{7,8})")


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A valid Algerian number: `e164` is the stored form, `national` the one shown to agents."""

    e164: str
    kind: PhoneKind

    @property
    def national(self) -> str:
        """As agents write it ("0550 12 34 56"); formatted when asked (a lookup never is)."""
        number = phonenumbers.PhoneNumber(
            country_code=ALGERIA_COUNTRY_CODE, national_number=int(self.e164[4:])
        )
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)


def normalize_phone(raw: str) -> PhoneNumber:
    """Parse any usual spelling of an Algerian number ("0550 12 34 56", "00213...", "+213 ...").

    Raises InvalidPhoneNumber with the reason when the text is not a mobile (05/06/07 and
    8 digits) or fixed-line (0, a 2-digit area code and 6 digits) Algerian number.
    """
    text = raw.strip()
    plain = _PLAIN.fullmatch(text)
    if plain:
        # Parsing was two fifths of a normalisation (py-spy, docs/benchmarks.md): the number
        # is built from its digits, then checked against the same metadata.
        digits = plain.group(1)
        return _checked(
            phonenumbers.PhoneNumber(
                country_code=ALGERIA_COUNTRY_CODE, national_number=int(digits)
            ),
            e164=f"+{ALGERIA_COUNTRY_CODE}{digits}",
        )
    if not text:
        raise InvalidPhoneNumber("the phone number is empty")
    if len(text) > _MAX_INPUT_LENGTH:
        raise InvalidPhoneNumber("the phone number is too long")
    for char in text:
        if not (unicodedata.category(char) == "Nd" or char in _ALLOWED_PUNCTUATION):
            raise InvalidPhoneNumber(f"unexpected character {char!r} in the phone number")
    if not any(unicodedata.category(char) == "Nd" for char in text):
        raise InvalidPhoneNumber("the phone number has no digits")
    if "+" in text[1:]:
        raise InvalidPhoneNumber("'+' may only start the phone number")

    try:
        # libphonenumber reads "213550123456" (country code without + or 00) as international.
        parsed = phonenumbers.parse(text, ALGERIA_REGION)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber("not a phone number") from error

    if parsed.country_code != ALGERIA_COUNTRY_CODE:
        raise InvalidPhoneNumber(f"not an Algerian number (country code +{parsed.country_code})")
    return _checked(parsed, e164=phonenumbers.format_number(parsed, PhoneNumberFormat.E164))


def _checked(number: phonenumbers.PhoneNumber, *, e164: str) -> PhoneNumber:
    """The Algerian ``number`` if it is an allocated mobile or fixed line."""
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(_invalid_reason(number))
    kind = _KIND_BY_TYPE.get(phonenumbers.number_type(number))
    if kind is None:
        raise InvalidPhoneNumber(
            "only mobile and fixed-line numbers are accepted (not VoIP, toll-free or premium)"
        )
    return PhoneNumber(e164=e164, kind=kind)


def mask_phone(number: str) -> str:
    """Hide a number for logs, keeping the country code and the last three digits.

    Never raises: logging must not fail on a bad number, which is masked all the same.
    >>> mask_phone("+213550123456")
    '+213******456'
    """
    digits = re.sub(r"\D", "", number)
    if number.strip().startswith("+") and digits.startswith(str(ALGERIA_COUNTRY_CODE)):
        prefix, rest = "+213", digits[3:]
    else:
        prefix, rest = "", digits
    if len(rest) <= 3:
        return prefix + "*" * len(rest)
    return prefix + "*" * (len(rest) - 3) + rest[-3:]


def _invalid_reason(parsed: phonenumbers.PhoneNumber) -> str:
    national = str(parsed.national_number)
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible == phonenumbers.ValidationResult.TOO_SHORT:
        return "too few digits for an Algerian number"
    if possible == phonenumbers.ValidationResult.TOO_LONG:
        return "too many digits for an Algerian number"
    if national[:1] in "567" and len(national) == 9:
        return f"no Algerian mobile network uses the prefix 0{national[:2]}"
    return f"0{national} is not an allocated Algerian number"
