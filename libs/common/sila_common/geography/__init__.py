"""Algeria's territorial reference as data: 69 wilayas, 591 daïras, 1,541 communes.

The CSV files next to this module are the release's copy of the reference (CC0 data of
`algeria-wilayas-communes` 1.1.0, the November 2025 reform included). Identity owns the
editable copy (its `wilayas`, `dairas`, `communes` tables, loaded by its migration 0006 from
a frozen file and maintained through its admin API); tickets and notify read this file to
name places and check incident areas without calling identity. A change of the map (a law)
arrives as a new data file and an identity migration, never as code.

Commune and daïra codes are Sila's: the wilaya code and a two-digit number (communes and
daïras numbered apart, by daïra then name), stable once published. Postal codes are kept
but identify nothing: communes of the new wilayas keep their former wilaya's postal codes.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Literal

Language = Literal["fr", "ar", "en"]


@dataclass(frozen=True, slots=True)
class Place:
    code: str
    name_fr: str
    name_ar: str
    name_en: str

    def name(self, language: str) -> str:
        if language == "ar":
            return self.name_ar
        if language == "en":
            return self.name_en
        return self.name_fr

    def names(self) -> dict[str, str]:
        return {"fr": self.name_fr, "ar": self.name_ar, "en": self.name_en}


@dataclass(frozen=True, slots=True)
class Wilaya(Place):
    # For the wilayas created by a reform: the wilaya they were carved out of, and when.
    parent_code: str | None = None
    established_on: date | None = None


@dataclass(frozen=True, slots=True)
class Daira(Place):
    wilaya_code: str = ""


@dataclass(frozen=True, slots=True)
class Commune(Place):
    daira_code: str = ""
    wilaya_code: str = ""
    postal_code: str | None = None
    # The wilaya the commune belonged to before the reform moved it (None if it did not move).
    former_wilaya_code: str | None = None


@dataclass(frozen=True)
class Reference:
    wilayas: dict[str, Wilaya]
    dairas: dict[str, Daira]
    communes: dict[str, Commune]

    def communes_of(self, wilaya_code: str) -> list[Commune]:
        return [c for c in self.communes.values() if c.wilaya_code == wilaya_code]

    def splits(self) -> dict[str, list[str]]:
        """Each wilaya a reform split: the codes of the wilayas carved out of it."""
        out: dict[str, list[str]] = {}
        for wilaya in self.wilayas.values():
            if wilaya.parent_code:
                out.setdefault(wilaya.parent_code, []).append(wilaya.code)
        return out

    def wilaya_name(self, code: str | None, language: str = "fr") -> str:
        """The wilaya's name in the language; the bare code only if the reference lacks it."""
        wilaya = self.wilayas.get(code or "")
        return wilaya.name(language) if wilaya else str(code or "")


def _rows(name: str) -> list[dict[str, str]]:
    source = resources.files("sila_common.geography").joinpath("data", name)
    return list(csv.DictReader(source.read_text(encoding="utf-8").splitlines()))


@functools.cache
def reference() -> Reference:
    """The reference shipped with this release (read once)."""
    wilayas = {
        r["code"]: Wilaya(
            code=r["code"],
            name_fr=r["name_fr"],
            name_ar=r["name_ar"],
            name_en=r["name_en"],
            parent_code=r["parent_code"] or None,
            established_on=date.fromisoformat(r["established_on"]) if r["established_on"] else None,
        )
        for r in _rows("wilayas.csv")
    }
    dairas = {
        r["code"]: Daira(
            code=r["code"],
            name_fr=r["name_fr"],
            name_ar=r["name_ar"],
            name_en=r["name_en"],
            wilaya_code=r["wilaya_code"],
        )
        for r in _rows("dairas.csv")
    }
    communes = {
        r["code"]: Commune(
            code=r["code"],
            name_fr=r["name_fr"],
            name_ar=r["name_ar"],
            name_en=r["name_en"],
            daira_code=r["daira_code"],
            wilaya_code=r["wilaya_code"],
            postal_code=r["postal_code"] or None,
            former_wilaya_code=r["former_wilaya_code"] or None,
        )
        for r in _rows("communes.csv")
    }
    return Reference(wilayas=wilayas, dairas=dairas, communes=communes)


# --- Matching names typed by people ---------------------------------------------------------

_ARABIC_DIACRITICS = re.compile("[\u064b-\u0652\u0670\u0640]")
_ARABIC_FOLD = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ؤ": "و", "ئ": "ي"}
)
# Transliteration variants of the same Arabic sounds in Latin script, longest first.
_LATIN_FOLD = (
    ("ou", "u"),
    ("dj", "j"),
    ("tch", "ch"),
    ("sh", "ch"),
    ("kh", "k"),
    ("gh", "g"),
    ("q", "k"),
    ("ai", "a"),
    ("ei", "i"),
    ("y", "i"),
    ("e", ""),
)


@functools.lru_cache(maxsize=65536)
def normalise_name(value: str) -> str:
    """Case, accents, apostrophes, hyphens and spaces do not make two places.

    "Bou-Saâda", "bou saada" and "BOUSAADA" give "bousaada"; in Arabic, the forms of alef,
    taa marbuta, alef maqsura, diacritics and tatweel are folded ("بوسعادة" = "بو سعاده").
    """
    text = unicodedata.normalize("NFKD", value.strip().casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _ARABIC_DIACRITICS.sub("", text).translate(_ARABIC_FOLD)
    return "".join(ch for ch in text if ch.isalnum())


@functools.lru_cache(maxsize=65536)
def name_skeleton(value: str) -> str:
    """A looser key for Latin spellings: "Bou Saada", "Bousaâda" and "Bou Sâada" agree, and
    so do "Ain Oussera" / "Aïn Ousséra", "Djelfa" / "Jelfa", "Ksar Chellala" / "Ksar Challala"
    (vowel e dropped, ou = u, dj = j, doubled letters single)."""
    text = normalise_name(value)
    for old, new in _LATIN_FOLD:
        text = text.replace(old, new)
    return re.sub(r"(.)\1+", r"\1", text)


def match_commune(text: str, candidates: list[Commune]) -> tuple[Commune | None, list[Commune]]:
    """The commune a free text names among the candidates: (the commune, []) when exactly one
    matches by spelling (either script, the daïra's seat not counted), else by skeleton;
    (None, the ambiguous ones) when several do; (None, []) when none does."""
    exact = normalise_name(text)
    if not exact:
        return None, []
    found = [c for c in candidates if exact in {normalise_name(n) for n in c.names().values()}]
    if not found:
        loose = name_skeleton(text)
        found = [
            c for c in candidates if loose in {name_skeleton(n) for n in (c.name_fr, c.name_en)}
        ]
    if len(found) == 1:
        return found[0], []
    return None, found


def candidates_for(reference: Reference, wilaya_code: str) -> list[Commune]:
    """The communes a customer registered in this wilaya may live in: its own communes and
    those a reform carved out of it (a customer of M'Sila may live in Bou Saâda)."""
    return [
        c
        for c in reference.communes.values()
        if c.wilaya_code == wilaya_code or c.former_wilaya_code == wilaya_code
    ]
