"""SMS length arithmetic: which encoding a text needs, how many parts it costs, how it splits.

Follows 3GPP TS 23.038 (GSM 7-bit default alphabet and its extension table) and the
concatenated-SMS user data header of TS 23.040, which takes 6 octets of every part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

SmsEncoding = Literal["GSM-7", "UCS-2"]

# The 127 characters of the default alphabet (position 0x1B is the escape, not a character).
# Only the capital Ç is in the table: a French "ç" or "ê" needs UCS-2, as do typographic
# apostrophes and the no-break spaces that French number formatting likes.
GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through the escape septet, so each costs two septets.
GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE_LIMIT: Final = 160
GSM7_PART_LIMIT: Final = 153
UCS2_SINGLE_LIMIT: Final = 70
UCS2_PART_LIMIT: Final = 67


@dataclass(frozen=True, slots=True)
class SmsCount:
    """What a text costs: `units` are septets (GSM-7) or UTF-16 code units (UCS-2)."""

    encoding: SmsEncoding
    units: int
    segments: int
    per_segment: int
    remaining_in_segment: int


def is_gsm7(text: str) -> bool:
    """True when every character of `text` is in the GSM 7-bit alphabet or its extension."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def encoding_for(text: str) -> SmsEncoding:
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def _unit_cost(char: str, encoding: SmsEncoding) -> int:
    if encoding == "GSM-7":
        return 2 if char in GSM7_EXTENSION else 1
    # Outside the Basic Multilingual Plane (most emoji) a character is a surrogate pair.
    return 2 if ord(char) > 0xFFFF else 1


def _limits(encoding: SmsEncoding) -> tuple[int, int]:
    if encoding == "GSM-7":
        return GSM7_SINGLE_LIMIT, GSM7_PART_LIMIT
    return UCS2_SINGLE_LIMIT, UCS2_PART_LIMIT


def _segments(text: str, encoding: SmsEncoding) -> list[tuple[str, int]]:
    """Each part with its units; a character is never cut, so neither is an escape or a pair."""
    single_limit, part_limit = _limits(encoding)
    costs = [_unit_cost(char, encoding) for char in text]
    if sum(costs) <= single_limit:
        return [(text, sum(costs))] if text else []
    parts: list[tuple[str, int]] = []
    start = used = 0
    for index, cost in enumerate(costs):
        if used + cost > part_limit:
            parts.append((text[start:index], used))
            start, used = index, 0
        used += cost
    parts.append((text[start:], used))
    return parts


def count_sms(text: str) -> SmsCount:
    """Encoding, units, parts and room left in the last part; the empty text costs no part."""
    encoding = encoding_for(text)
    single_limit, part_limit = _limits(encoding)
    parts = _segments(text, encoding)
    units = sum(units for _, units in parts)
    per_segment = part_limit if len(parts) > 1 else single_limit
    last_part_units = parts[-1][1] if parts else 0
    return SmsCount(
        encoding=encoding,
        units=units,
        segments=len(parts),
        per_segment=per_segment,
        remaining_in_segment=per_segment - last_part_units,
    )


def split_sms(text: str) -> list[str]:
    """The text of each part as the SMS centre would send it; [] for the empty text."""
    return [part for part, _ in _segments(text, encoding_for(text))]
