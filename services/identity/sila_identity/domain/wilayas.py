"""The wilayas (provinces) of Algeria with their official codes and French and Arabic names.

The list is data, not an enum: 58 wilayas are in force and a law creating 11 more
(codes 59 to 69) was approved in November 2025. New wilayas are added to
data/wilayas.csv only.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources
from typing import Final

from sila_identity.domain.errors import InvalidValue

# Highest code that a law has created; identifiers that embed a wilaya code (RC numbers,
# contract numbers) accept up to this even before data/wilayas.csv lists the newest ones.
MAX_WILAYA_CODE: Final = 69

_DATA_FILE: Final = "wilayas.csv"
_EXPECTED_COLUMNS: Final = ("code", "name_fr", "name_ar")


class UnknownWilaya(InvalidValue):
    """No wilaya has this code."""


@dataclass(frozen=True, slots=True)
class Wilaya:
    """A wilaya: `code` is the official two-digit code ("06" Béjaïa, "15" Tizi Ouzou)."""

    code: str
    name_fr: str
    name_ar: str


def load_wilayas() -> list[Wilaya]:
    """All wilayas in code order, read once from the packaged CSV (a fresh list each call)."""
    return list(_wilayas())


def wilaya_by_code(code: str | int) -> Wilaya:
    """The wilaya with this code ("6", "06" and 6 are the same), or raise UnknownWilaya."""
    key = format_wilaya_code(code)
    for wilaya in _wilayas():
        if wilaya.code == key:
            return wilaya
    raise UnknownWilaya(f"no wilaya has the code {key}")


def format_wilaya_code(code: str | int) -> str:
    """Write a wilaya code on two digits, or raise UnknownWilaya if it cannot be one."""
    text = str(code).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_WILAYA_CODE:
        raise UnknownWilaya(f"{text!r} is not a wilaya code (01 to {MAX_WILAYA_CODE})")
    return f"{int(text):02d}"


@functools.cache
def _wilayas() -> tuple[Wilaya, ...]:
    source = resources.files("sila_identity.domain").joinpath("data", _DATA_FILE)
    reader = csv.DictReader(source.read_text(encoding="utf-8").splitlines())
    if tuple(reader.fieldnames or ()) != _EXPECTED_COLUMNS:
        raise ValueError(f"{_DATA_FILE} must have the columns {', '.join(_EXPECTED_COLUMNS)}")
    wilayas = (
        Wilaya(
            code=format_wilaya_code(row["code"]),
            name_fr=row["name_fr"].strip(),
            name_ar=row["name_ar"].strip(),
        )
        for row in reader
    )
    return tuple(sorted(wilayas, key=lambda wilaya: wilaya.code))
