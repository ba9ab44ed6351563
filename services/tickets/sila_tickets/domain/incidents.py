"""Network incidents: how an area is named, so a ticket's line finds its incident at once.

Wilayas, daïras and communes are places of the geography reference (`sila_common.geography`):
an incident over one is checked against it, keyed by its code, and named in every language
in front of customers ("perturbation fibre à Bou Saada", "… في بوسعادة"), never by a code.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sila_common.geography import Place, Reference, match_commune, normalise_name


class AreaKind(enum.StrEnum):
    WILAYA = "wilaya"
    DAIRA = "daira"
    COMMUNE = "commune"
    EXCHANGE = "exchange"
    OLT = "olt"


ANY_SERVICE = "all"

# What a customer reads for a service code, in each language (messages name the service,
# never its code: "perturbation Fibre optique", not "perturbation fibre").
SERVICE_NAMES: dict[str, dict[str, str]] = {
    "all": {"fr": "tous services", "ar": "جميع الخدمات", "en": "all services"},
    "adsl": {"fr": "ADSL", "ar": "ADSL", "en": "ADSL"},
    "vdsl": {"fr": "VDSL", "ar": "VDSL", "en": "VDSL"},
    "fibre": {"fr": "Fibre optique", "ar": "الألياف البصرية", "en": "Fibre"},
    "ftth": {"fr": "Fibre optique", "ar": "الألياف البصرية", "en": "Fibre"},
    "4g": {"fr": "4G LTE", "ar": "الجيل الرابع 4G", "en": "4G LTE"},
    "lte": {"fr": "4G LTE", "ar": "الجيل الرابع 4G", "en": "4G LTE"},
    "fixed": {"fr": "téléphone fixe", "ar": "الهاتف الثابت", "en": "fixed line"},
    "fixe": {"fr": "téléphone fixe", "ar": "الهاتف الثابت", "en": "fixed line"},
    "voice": {"fr": "téléphone fixe", "ar": "الهاتف الثابت", "en": "fixed line"},
}


def service_names(code: str) -> dict[str, str] | None:
    """The service's name in fr, ar and en; None for a code the table does not know (the
    message then shows the code as the agent typed it)."""
    return SERVICE_NAMES.get(code.strip().lower())


PLACES = frozenset({AreaKind.WILAYA, AreaKind.DAIRA, AreaKind.COMMUNE})


class UnknownPlace(ValueError):
    """The area does not name a place of the reference (or names one of another wilaya)."""

    def __init__(self, reason: str, *, candidates: list[str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.candidates = candidates or []


@dataclass(frozen=True)
class ResolvedPlace:
    kind: AreaKind
    code: str
    wilaya_code: str
    place: Place


def normalise(value: str) -> str:
    """Case, accents and spacing do not make two places: "Aïn El Hammam" = "ain el hammam"."""
    decomposed = unicodedata.normalize("NFKD", value.strip().casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.replace("-", " ").split())


def resolve_place(
    reference: Reference, kind: AreaKind, value: str, wilaya_code: str | None
) -> ResolvedPlace:
    """The wilaya, daïra or commune an incident names, by code or by name in either script
    (a name needs its wilaya: names repeat); raises UnknownPlace naming what is wrong."""
    text = value.strip()
    if kind is AreaKind.WILAYA:
        wilaya = reference.wilayas.get(text)
        if wilaya is None:
            raise UnknownPlace(f"no wilaya has the code {text}")
        return ResolvedPlace(kind, wilaya.code, wilaya.code, wilaya)
    places: dict[str, Place]
    places = dict(reference.communes) if kind is AreaKind.COMMUNE else dict(reference.dairas)
    found = places.get(text)
    if found is None:
        if wilaya_code is None:
            raise UnknownPlace(f"a {kind.value} named by its name needs the wilaya_code it is in")
        if kind is AreaKind.COMMUNE:
            match, maybe = match_commune(text, reference.communes_of(wilaya_code))
            if match is None and not maybe:
                # Named right but placed in the wrong wilaya: say where it is.
                match, _ = match_commune(text, list(reference.communes.values()))
            found = match
        else:
            wanted = normalise_name(text)
            maybe = []
            matches = [
                d
                for d in reference.dairas.values()
                if d.wilaya_code == wilaya_code
                and wanted in {normalise_name(n) for n in d.names().values()}
            ]
            found = matches[0] if len(matches) == 1 else None
        if found is None:
            named = reference.wilaya_name(wilaya_code)
            raise UnknownPlace(
                f"no {kind.value} of {named} ({wilaya_code}) is called {text!r}"
                + (" unambiguously" if maybe else ""),
                candidates=[c.code for c in maybe],
            )
    place_wilaya = str(getattr(found, "wilaya_code", ""))
    if wilaya_code is not None and place_wilaya != wilaya_code:
        raise UnknownPlace(
            f"the {kind.value} {found.name_fr} ({found.code}) is in the wilaya of "
            f"{reference.wilaya_name(place_wilaya)} ({place_wilaya}), not "
            f"{reference.wilaya_name(wilaya_code)} ({wilaya_code})"
        )
    return ResolvedPlace(kind, found.code, place_wilaya, found)


def place_names(reference: Reference, kind: str, value: str) -> dict[str, str] | None:
    """The names in fr/ar/en of an incident's place (None for an exchange or an OLT)."""
    tables: dict[str, dict[str, Place]] = {
        AreaKind.WILAYA.value: dict(reference.wilayas),
        AreaKind.DAIRA.value: dict(reference.dairas),
        AreaKind.COMMUNE.value: dict(reference.communes),
    }
    table = tables.get(kind, {})
    place = table.get(value)
    return place.names() if place is not None else None


def area_value(kind: AreaKind, value: str, wilaya_code: str | None) -> str:
    """The indexed key of an area: a place's code, an exchange's or an OLT's identifier."""
    if kind in PLACES:
        return value.strip()
    return normalise(value)


def area_keys(
    *,
    wilaya_code: str | None,
    places: Iterable[tuple[str | None, str | None]] = (),
    exchange: str | None,
    olt: str | None,
) -> list[tuple[AreaKind, str]]:
    """Every area a line belongs to, most precise first; `places` are the (commune code,
    daïra code) of where the customer's lines are installed."""
    keys: list[tuple[AreaKind, str]] = []
    if olt:
        keys.append((AreaKind.OLT, area_value(AreaKind.OLT, olt, wilaya_code)))
    if exchange:
        keys.append((AreaKind.EXCHANGE, area_value(AreaKind.EXCHANGE, exchange, wilaya_code)))
    for commune, daira in places:
        if commune:
            keys.append((AreaKind.COMMUNE, commune))
        if daira:
            keys.append((AreaKind.DAIRA, daira))
    if wilaya_code:
        keys.append((AreaKind.WILAYA, wilaya_code))
    return list(dict.fromkeys(keys))


def service_matches(incident_service: str, ticket_service: str | None) -> bool:
    """An incident on every service, or a ticket that does not say, or the same service."""
    return (
        incident_service == ANY_SERVICE
        or ticket_service is None
        or (normalise(incident_service) == normalise(ticket_service))
    )
