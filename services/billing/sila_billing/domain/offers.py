"""The catalogue: offers with their kind, speed or volume, validity and versioned price.

A price is never changed in place: a new version starts at a moment, and a bill or payment
keeps the version it was made with, so a price change never rewrites the past.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sila_common.offers import offer_of


class Billing(enum.StrEnum):
    PREPAID = "prepaid"  # internet: recharged for a validity period
    POSTPAID = "postpaid"  # fixed line: billed every month


class Technology(enum.StrEnum):
    FIXED = "fixed"
    ADSL = "adsl"
    VDSL = "vdsl"
    FIBRE = "fibre"
    LTE = "lte"


# Idoomly reactivates expired ADSL and Fibre subscriptions only (DOMAIN.md).
IDOOMLY_TECHNOLOGIES = frozenset({Technology.ADSL, Technology.FIBRE})


@dataclass(frozen=True)
class PriceVersion:
    version: int
    price_centimes: int
    valid_from: datetime


def price_at(versions: Sequence[PriceVersion], moment: datetime) -> PriceVersion | None:
    """The version in force at ``moment``: the latest that started at or before it."""
    current: PriceVersion | None = None
    for candidate in versions:
        if candidate.valid_from <= moment and (
            current is None or candidate.valid_from >= current.valid_from
        ):
            current = candidate
    return current


@dataclass(frozen=True)
class DefaultOffer:
    """An offer billing sells: its code (one of ``sila_common.offers``, whose name it takes)
    and what billing adds, price, technology and validity."""

    code: str
    technology: Technology
    billing: Billing
    segment: str
    price_centimes: int
    validity_days: int | None
    speed_mbps: int | None = None
    volume_gb: int | None = None

    @property
    def name(self) -> str:
        offer = offer_of(self.code)
        return offer.name_fr if offer is not None else self.code


# The 2022-2025 residential and professional range (prices of AT's public catalogue): the
# codes of ``sila_common.offers``, every one of them (tests/unit/billing).
DEFAULT_OFFERS: tuple[DefaultOffer, ...] = (
    DefaultOffer("IDOOM_FIXE", Technology.FIXED, Billing.POSTPAID, "residential", 100_000, None),
    DefaultOffer(
        "IDOOM_ADSL_10M",
        Technology.ADSL,
        Billing.PREPAID,
        "residential",
        160_000,
        30,
        speed_mbps=10,
    ),
    DefaultOffer(
        "IDOOM_ADSL_20M",
        Technology.ADSL,
        Billing.PREPAID,
        "residential",
        220_000,
        30,
        speed_mbps=20,
    ),
    DefaultOffer(
        "IDOOM_VDSL_50M",
        Technology.VDSL,
        Billing.PREPAID,
        "residential",
        340_000,
        30,
        speed_mbps=50,
    ),
    DefaultOffer(
        "IDOOM_FIBRE_100M",
        Technology.FIBRE,
        Billing.PREPAID,
        "residential",
        240_000,
        30,
        speed_mbps=100,
    ),
    DefaultOffer(
        "IDOOM_FIBRE_300M",
        Technology.FIBRE,
        Billing.PREPAID,
        "residential",
        650_000,
        30,
        speed_mbps=300,
    ),
    DefaultOffer(
        "IDOOM_4G_100GB",
        Technology.LTE,
        Billing.PREPAID,
        "residential",
        250_000,
        30,
        volume_gb=100,
    ),
    DefaultOffer(
        "IDOOM_FIXE_PRO",
        Technology.FIXED,
        Billing.POSTPAID,
        "professional",
        250_000,
        None,
    ),
    DefaultOffer(
        "PACK_MOOHTARIF",
        Technology.FIBRE,
        Billing.PREPAID,
        "professional",
        450_000,
        30,
        speed_mbps=100,
    ),
    DefaultOffer(
        "PACK_JEUNES_ENTREPRENEURS",
        Technology.ADSL,
        Billing.PREPAID,
        "professional",
        300_000,
        30,
        speed_mbps=20,
    ),
)
