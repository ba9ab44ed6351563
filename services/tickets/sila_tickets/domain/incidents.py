"""Network incidents: how an area is named, so a ticket's line finds its incident at once."""

from __future__ import annotations

import enum
import unicodedata


class AreaKind(enum.StrEnum):
    WILAYA = "wilaya"
    COMMUNE = "commune"
    EXCHANGE = "exchange"
    OLT = "olt"


ANY_SERVICE = "all"


def normalise(value: str) -> str:
    """Case, accents and spacing do not make two places: "Aïn El Hammam" = "ain el hammam"."""
    decomposed = unicodedata.normalize("NFKD", value.strip().casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.replace("-", " ").split())


def area_value(kind: AreaKind, value: str, wilaya_code: str | None) -> str:
    """The indexed key of an area; a commune is qualified by its wilaya (names repeat)."""
    if kind is AreaKind.COMMUNE:
        return f"{wilaya_code or '??'}/{normalise(value)}"
    if kind is AreaKind.WILAYA:
        return value.strip()
    return normalise(value)


def area_keys(
    *,
    wilaya_code: str | None,
    commune: str | None,
    exchange: str | None,
    olt: str | None,
) -> list[tuple[AreaKind, str]]:
    """Every area a line belongs to, most precise first."""
    keys: list[tuple[AreaKind, str]] = []
    if olt:
        keys.append((AreaKind.OLT, area_value(AreaKind.OLT, olt, wilaya_code)))
    if exchange:
        keys.append((AreaKind.EXCHANGE, area_value(AreaKind.EXCHANGE, exchange, wilaya_code)))
    if commune and wilaya_code:
        keys.append((AreaKind.COMMUNE, area_value(AreaKind.COMMUNE, commune, wilaya_code)))
    if wilaya_code:
        keys.append((AreaKind.WILAYA, wilaya_code))
    return keys


def service_matches(incident_service: str, ticket_service: str | None) -> bool:
    """An incident on every service, or a ticket that does not say, or the same service."""
    return (
        incident_service == ANY_SERVICE
        or ticket_service is None
        or (normalise(incident_service) == normalise(ticket_service))
    )
