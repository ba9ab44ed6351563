"""The catalogue over HTTP: offers (public) and their prices (billing agents)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, status
from pydantic import AwareDatetime, BaseModel, Field

from sila_billing.api.deps import RuntimeDep
from sila_billing.domain.money import MAX_AMOUNT_CENTIMES
from sila_billing.flows import catalogue
from sila_billing.flows.common import utcnow
from sila_common.auth import Principal, require_roles

router = APIRouter(prefix="/v1/offers", tags=["offers"])


class OfferRead(BaseModel):
    code: str
    name: str
    technology: str
    billing: str
    segment: str
    speed_mbps: int | None
    volume_gb: int | None
    validity_days: int | None
    price_centimes: int
    price_version: int


class PriceCreate(BaseModel):
    price_centimes: int = Field(gt=0, le=MAX_AMOUNT_CENTIMES, strict=True)
    valid_from: AwareDatetime


class PriceRead(BaseModel):
    offer_code: str
    version: int
    price_centimes: int
    valid_from: datetime


@router.get("", response_model=list[OfferRead], summary="The catalogue, with today's prices")
async def list_offers(runtime: RuntimeDep) -> Any:
    async with runtime.session_factory() as session:
        return await catalogue.list_offers(session, utcnow())


@router.post(
    "/{code}/prices",
    status_code=status.HTTP_201_CREATED,
    response_model=PriceRead,
    summary="A new price version from a date on (billing agents); past bills keep theirs",
)
async def add_price(
    code: str,
    body: PriceCreate,
    runtime: RuntimeDep,
    principal: Principal = Depends(require_roles("billing")),
) -> Any:
    return await catalogue.add_price_version(
        runtime, code, body.price_centimes, body.valid_from, f"agent:{principal.subject}"
    )
