"""The wilayas (provinces) of Algeria with their official codes and French and Arabic names.

The list is data, not an enum: the 69 wilayas in force since the November 2025 reform come
from the platform's geography reference (`sila_common.geography`); identity's own editable
copy is its `wilayas` table, loaded by migration and maintained through the admin API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sila_common.geography import reference
from sila_identity.domain.errors import InvalidValue

# Highest code that a law has created; identifiers that embed a wilaya code (RC numbers,
# contract numbers) accept up to this.
MAX_WILAYA_CODE: Final = 69


class UnknownWilaya(InvalidValue):
    """No wilaya has this code."""


@dataclass(frozen=True, slots=True)
class Wilaya:
    """A wilaya: `code` is the official two-digit code ("06" Béjaïa, "15" Tizi Ouzou)."""

    code: str
    name_fr: str
    name_ar: str


def load_wilayas() -> list[Wilaya]:
    """All wilayas in code order (a fresh list each call)."""
    return [
        Wilaya(code=w.code, name_fr=w.name_fr, name_ar=w.name_ar)
        for w in sorted(reference().wilayas.values(), key=lambda w: w.code)
    ]


def wilaya_by_code(code: str | int) -> Wilaya:
    """The wilaya with this code ("6", "06" and 6 are the same), or raise UnknownWilaya."""
    key = format_wilaya_code(code)
    found = reference().wilayas.get(key)
    if found is None:
        raise UnknownWilaya(f"no wilaya has the code {key}")
    return Wilaya(code=found.code, name_fr=found.name_fr, name_ar=found.name_ar)


def format_wilaya_code(code: str | int) -> str:
    """Write a wilaya code on two digits, or raise UnknownWilaya if it cannot be one."""
    text = str(code).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_WILAYA_CODE:
        raise UnknownWilaya(f"{text!r} is not a wilaya code (01 to {MAX_WILAYA_CODE})")
    return f"{int(text):02d}"
