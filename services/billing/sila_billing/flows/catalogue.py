"""The catalogue: offers and their price versions (seeded from the default range)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_billing.domain.offers import DEFAULT_OFFERS, PriceVersion
from sila_billing.flows.common import utcnow
from sila_billing.runtime import BillingRuntime
from sila_billing.tables import offer_prices, offers
from sila_common.problems import Conflict, NotFound

CATALOGUE_START = datetime(2025, 1, 1, tzinfo=UTC)


async def seed_catalogue(runtime: BillingRuntime) -> None:
    """The default range, once (an existing offer is never touched)."""
    async with runtime.session_factory() as session, session.begin():
        now = utcnow()
        for offer in DEFAULT_OFFERS:
            await session.execute(
                pg_insert(offers)
                .values(
                    code=offer.code,
                    name=offer.name,
                    technology=offer.technology.value,
                    billing=offer.billing.value,
                    segment=offer.segment,
                    speed_mbps=offer.speed_mbps,
                    volume_gb=offer.volume_gb,
                    validity_days=offer.validity_days,
                    active=True,
                    created_at=now,
                )
                .on_conflict_do_nothing()
            )
            await session.execute(
                pg_insert(offer_prices)
                .values(
                    offer_code=offer.code,
                    version=1,
                    price_centimes=offer.price_centimes,
                    valid_from=CATALOGUE_START,
                    created_by="system:catalogue",
                    created_at=now,
                )
                .on_conflict_do_nothing()
            )


async def offer_row(session: AsyncSession, code: str) -> Any:
    row = (await session.execute(select(offers).where(offers.c.code == code))).one_or_none()
    if row is None:
        raise NotFound(f"No offer {code}.")
    return row


async def current_price(session: AsyncSession, code: str, moment: datetime) -> PriceVersion:
    row = (
        await session.execute(
            select(offer_prices)
            .where(offer_prices.c.offer_code == code, offer_prices.c.valid_from <= moment)
            .order_by(offer_prices.c.valid_from.desc(), offer_prices.c.version.desc())
            .limit(1)
        )
    ).one_or_none()
    if row is None:
        raise Conflict(f"Offer {code} has no price in force.", slug="no-price")
    return PriceVersion(row.version, row.price_centimes, row.valid_from)


async def add_price(
    session: AsyncSession, code: str, price_centimes: int, valid_from: datetime, by: str
) -> dict[str, Any]:
    """A new price version; past ones (and what was billed with them) stay as they were."""
    await offer_row(session, code)
    if valid_from < utcnow():
        raise Conflict("A new price starts now or later, never in the past.", slug="price-in-past")
    latest = (
        await session.execute(
            select(func.max(offer_prices.c.version)).where(offer_prices.c.offer_code == code)
        )
    ).scalar_one()
    row = {
        "offer_code": code,
        "version": (latest or 0) + 1,
        "price_centimes": price_centimes,
        "valid_from": valid_from,
        "created_by": by,
        "created_at": utcnow(),
    }
    await session.execute(insert(offer_prices).values(**row))
    return row


async def list_offers(session: AsyncSession, moment: datetime) -> list[dict[str, Any]]:
    rows = (
        await session.execute(select(offers).where(offers.c.active).order_by(offers.c.code))
    ).all()
    answer = []
    for row in rows:
        price = await current_price(session, row.code, moment)
        answer.append(
            dict(row._mapping)
            | {"price_centimes": price.price_centimes, "price_version": price.version}
        )
    return answer


async def add_price_version(
    runtime: BillingRuntime, code: str, price_centimes: int, valid_from: datetime, by: str
) -> dict[str, Any]:
    """``add_price`` in its own transaction."""
    async with runtime.session_factory() as session, session.begin():
        return await add_price(session, code, price_centimes, valid_from, by)
