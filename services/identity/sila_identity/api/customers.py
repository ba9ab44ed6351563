"""Customers and their contracts: registration, identification by phone or contract."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, EmailStr, Field, field_validator, model_validator
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from sila_common.app import RuntimeDep
from sila_common.auth import CurrentPrincipal, Principal, require_roles
from sila_common.problems import Conflict, Forbidden, NotFound, Unprocessable
from sila_identity.domain.errors import InvalidValue
from sila_identity.domain.phone import normalize_phone
from sila_identity.events import (
    CONTRACT_SIGNED,
    CUSTOMER_REGISTERED,
    ContractSigned,
    CustomerRegistered,
)
from sila_identity.tables import contracts, customers

router = APIRouter(prefix="/v1/customers", tags=["customers"])

FRONT_OFFICE = ("agent", "supervisor")
CustomerKind = Literal["residential", "professional"]
Language = Literal["ar", "fr", "en"]


class CustomerCreate(BaseModel):
    kind: CustomerKind = "residential"
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    first_name_ar: str | None = Field(default=None, max_length=100)
    last_name_ar: str | None = Field(default=None, max_length=100)
    company_name: str | None = Field(default=None, max_length=200)
    legal_form: str | None = Field(default=None, max_length=50)
    trade_register_number: str | None = Field(default=None, max_length=50)
    national_id: str | None = Field(default=None, pattern=r"^\d{18}$")
    phone: str = Field(min_length=6, max_length=30)
    email: EmailStr | None = None
    wilaya_code: str = Field(pattern=r"^\d{2}$")
    commune: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=500)
    language: Language = "fr"
    channel: Literal["agency", "call_centre", "web", "app", "social", "email"] = "agency"

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str) -> str:
        try:
            return normalize_phone(value).e164
        except InvalidValue as exc:
            raise ValueError(exc.reason) from exc

    @model_validator(mode="after")
    def _named(self) -> CustomerCreate:
        if self.kind == "professional" and not self.company_name:
            raise ValueError("a professional customer needs company_name")
        if self.kind == "residential" and not (
            (self.first_name and self.last_name) or (self.first_name_ar and self.last_name_ar)
        ):
            raise ValueError("a residential customer needs a first and last name (Latin or Arabic)")
        return self


class CustomerRead(BaseModel):
    id: str
    kind: str
    status: str
    first_name: str | None
    last_name: str | None
    first_name_ar: str | None
    last_name_ar: str | None
    company_name: str | None
    phone: str
    email: str | None
    wilaya_code: str
    commune: str | None
    language: str
    created_at: datetime


class ContractCreate(BaseModel):
    offer_code: str = Field(min_length=2, max_length=50)
    line_number: str | None = Field(default=None, max_length=30)
    installation_address: str | None = Field(default=None, max_length=500)
    number: str | None = Field(default=None, min_length=4, max_length=40)


class ContractRead(BaseModel):
    id: str
    customer_id: str
    number: str
    offer_code: str
    line_number: str | None
    status: str
    created_at: datetime


def display_name(data: CustomerCreate) -> str:
    if data.company_name:
        return data.company_name
    latin = " ".join(p for p in (data.first_name, data.last_name) if p)
    return latin or " ".join(p for p in (data.first_name_ar, data.last_name_ar) if p)


async def load_customer(runtime: RuntimeDep, customer_id: str) -> CustomerRead:
    async with runtime.session_factory() as session:
        row = (
            await session.execute(select(customers).where(customers.c.id == customer_id))
        ).one_or_none()
    if row is None:
        raise NotFound(f"No customer {customer_id}.")
    return CustomerRead.model_validate(row, from_attributes=True)


def ensure_may_read(principal: Principal, customer: CustomerRead) -> None:
    if not principal.may_read_customer(customer.id, customer.wilaya_code):
        # A customer asking for someone else learns nothing about whether they exist.
        raise NotFound(f"No customer {customer.id}.")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerRead,
    summary="Register a customer",
)
async def register_customer(
    body: CustomerCreate,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require_roles(*FRONT_OFFICE))],
) -> CustomerRead:
    if not principal.serves_wilaya(body.wilaya_code):
        raise Forbidden(f"Your scope does not cover wilaya {body.wilaya_code}.")
    now = datetime.now(UTC)
    customer_id = str(uuid.uuid4())
    row = body.model_dump(exclude={"channel"}) | {
        "id": customer_id,
        "status": "active",
        "email": str(body.email) if body.email else None,
        "created_at": now,
        "updated_at": now,
    }
    try:
        async with runtime.session_factory() as session, session.begin():
            await session.execute(insert(customers).values(**row))
            await runtime.outbox.record(
                session,
                CUSTOMER_REGISTERED,
                subject=customer_id,
                customer_id=customer_id,
                data=CustomerRegistered(
                    customer_id=customer_id,
                    kind=body.kind,
                    status="active",
                    wilaya_code=body.wilaya_code,
                    language=body.language,
                    channel=body.channel,
                    display_name=display_name(body),
                ),
            )
    except IntegrityError as exc:
        raise await _duplicate(runtime, body) from exc
    return await load_customer(runtime, customer_id)


async def _duplicate(runtime: RuntimeDep, body: CustomerCreate) -> Conflict:
    async with runtime.session_factory() as session:
        for column, value, label in (
            (customers.c.phone, body.phone, "phone number"),
            (customers.c.national_id, body.national_id, "national identification number"),
        ):
            if value is None:
                continue
            existing = await session.scalar(select(customers.c.id).where(column == value))
            if existing is not None:
                return Conflict(
                    f"A customer with this {label} already exists.", existing_customer_id=existing
                )
    return Conflict("The customer conflicts with an existing one.")


@router.get("/{customer_id}", response_model=CustomerRead, summary="One customer")
async def get_customer(
    customer_id: str, runtime: RuntimeDep, principal: CurrentPrincipal
) -> CustomerRead:
    customer = await load_customer(runtime, customer_id)
    ensure_may_read(principal, customer)
    return customer


@router.get("", response_model=list[CustomerRead], summary="Identify a customer")
async def find_customers(
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require_roles(*FRONT_OFFICE, "technician", "billing"))],
    phone: Annotated[str | None, Query(max_length=30)] = None,
    contract: Annotated[str | None, Query(max_length=40)] = None,
) -> list[CustomerRead]:
    if bool(phone) == bool(contract):
        raise Unprocessable("Give exactly one of phone or contract.")
    query = select(customers)
    if phone:
        try:
            e164 = normalize_phone(phone).e164
        except InvalidValue as exc:
            raise Unprocessable(
                exc.reason,
                errors=[{"field": "query.phone", "message": exc.reason, "type": "phone"}],
            ) from exc
        query = query.where(customers.c.phone == e164)
    else:
        query = query.join(contracts, contracts.c.customer_id == customers.c.id).where(
            contracts.c.number == contract
        )
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    found = [CustomerRead.model_validate(r, from_attributes=True) for r in rows]
    return [c for c in found if principal.may_read_customer(c.id, c.wilaya_code)]


@router.post(
    "/{customer_id}/contracts",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractRead,
    summary="Add a contract to a customer",
)
async def add_contract(
    customer_id: str,
    body: ContractCreate,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require_roles(*FRONT_OFFICE))],
) -> ContractRead:
    customer = await load_customer(runtime, customer_id)
    ensure_may_read(principal, customer)
    contract_id = str(uuid.uuid4())
    number = body.number or f"AT-{customer.wilaya_code}-{contract_id[:8].upper()}"
    line_number = None
    if body.line_number:
        try:
            line_number = normalize_phone(body.line_number).e164
        except InvalidValue as exc:
            raise Unprocessable(exc.reason) from exc
    row = {
        "id": contract_id,
        "customer_id": customer_id,
        "number": number,
        "offer_code": body.offer_code,
        "line_number": line_number,
        "installation_address": body.installation_address,
        "status": "active",
        "created_at": datetime.now(UTC),
    }
    try:
        async with runtime.session_factory() as session, session.begin():
            await session.execute(insert(contracts).values(**row))
            await runtime.outbox.record(
                session,
                CONTRACT_SIGNED,
                subject=contract_id,
                customer_id=customer_id,
                data=ContractSigned(
                    customer_id=customer_id,
                    contract_id=contract_id,
                    number=number,
                    offer_code=body.offer_code,
                    line_number=line_number,
                ),
            )
    except IntegrityError as exc:
        raise Conflict(f"The contract number {number} is already taken.") from exc
    return ContractRead.model_validate(row)
