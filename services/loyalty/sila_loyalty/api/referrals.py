"""Referrals over HTTP: invite by phone number, or enter a referrer's code."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import phonenumbers
from fastapi import APIRouter, Header, Response, status
from pydantic import BaseModel, Field, model_validator

from sila_common.auth import CurrentPrincipal
from sila_common.problems import Forbidden, Unprocessable
from sila_loyalty.api.deps import RuntimeDep
from sila_loyalty.flows import referrals as flows

router = APIRouter(prefix="/v1/loyalty/referrals", tags=["referrals"])


class ReferralCreate(BaseModel):
    """``referee_phone``: invite someone; ``referrer_code``: say who invited you."""

    referee_phone: str | None = Field(default=None, max_length=20, examples=["0661234567"])
    referrer_code: str | None = Field(default=None, min_length=4, max_length=12)

    @model_validator(mode="after")
    def one_of_them(self) -> ReferralCreate:
        if (self.referee_phone is None) == (self.referrer_code is None):
            raise ValueError("give either referee_phone or referrer_code")
        return self


class ReferralRead(BaseModel):
    id: str
    referrer_id: str
    referee_id: str | None
    via: str
    status: str
    created_at: datetime
    converted_at: datetime | None


def e164(raw: str) -> str:
    try:
        number = phonenumbers.parse(raw, "DZ")
    except phonenumbers.NumberParseException as exc:
        raise _bad_phone() from exc
    if not phonenumbers.is_valid_number(number) or number.country_code != 213:
        raise _bad_phone()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _bad_phone() -> Unprocessable:
    return Unprocessable(
        "Not an Algerian phone number.",
        errors=[{"field": "body.referee_phone", "message": "not an Algerian phone number"}],
    )


def referral_read(row: Any) -> ReferralRead:
    data = dict(row) if isinstance(row, dict) else dict(row._mapping)
    return ReferralRead(**{k: data[k] for k in ReferralRead.model_fields})


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ReferralRead,
    summary="Invite by phone, or name who invited you by their code (idempotent)",
)
async def create_referral(
    body: ReferralCreate,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    response: Response,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    if principal.kind != "customer" or principal.customer_id is None:
        raise Forbidden("Customers refer each other.")
    customer_id = principal.customer_id
    phone = e164(body.referee_phone) if body.referee_phone is not None else None

    invited = await flows.invite_once(
        runtime,
        principal,
        customer_id=customer_id,
        referee_phone=phone,
        referrer_code=body.referrer_code,
        key=idempotency_key,
        body=body.model_dump(mode="json"),
        render=lambda row: referral_read(row).model_dump(mode="json"),
    )
    response.status_code = invited.status
    if invited.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return invited.body


@router.get("", response_model=list[ReferralRead], summary="Your referrals, either side")
async def list_referrals(runtime: RuntimeDep, principal: CurrentPrincipal) -> Any:
    if principal.kind != "customer" or principal.customer_id is None:
        raise Forbidden("Customers read their own referrals.")
    async with runtime.session_factory() as session:
        rows = await flows.list_for(session, principal.customer_id)
    return [referral_read(r) for r in rows]
