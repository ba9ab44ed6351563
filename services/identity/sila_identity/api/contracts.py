"""Contracts: an offer on a line, with a readable number (AT-16-2026-0001234-7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sila_common.db import as_utc
from sila_common.inputs import Instant
from sila_common.offers import OFFER_CODES
from sila_common.problems import Conflict, Forbidden, NotFound
from sila_identity.api.deps import Caller, FrontOffice, RuntimeDep
from sila_identity.directory import load_row
from sila_identity.domain.errors import InvalidValue
from sila_identity.domain.phone import normalize_phone
from sila_identity.domain.wilayas import format_wilaya_code
from sila_identity.flows import audit, installations
from sila_identity.flows import contracts as flows
from sila_identity.queries import contracts_as_read
from sila_identity.tables import contracts

router = APIRouter(prefix="/v1/customers", tags=["contracts"])
ALGIERS = ZoneInfo("Africa/Algiers")


class ContractCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # An offer of the catalogue (sila_common.offers, the codes billing sells).
    offer_code: str = Field(min_length=2, max_length=50, pattern=r"^[A-Z0-9_\-]+$")
    # The fixed line (any Algerian spelling, stored E.164), if the offer has one.
    line_number: str | None = Field(default=None, max_length=40)
    # The internet access identifier (ADSL/fibre login, 4G number), as the network knows it.
    access_number: str | None = Field(default=None, min_length=3, max_length=50)
    installation_address: str | None = Field(default=None, min_length=3, max_length=500)
    # Defaults to the customer's wilaya; the contract number carries it.
    installation_wilaya_code: str | None = Field(default=None, max_length=2)
    installation_commune: str | None = Field(default=None, min_length=2, max_length=100)
    # The installation's commune in the reference; must be a commune of the wilaya above.
    installation_commune_code: str | None = Field(default=None, pattern=r"^\d{4}$")
    status: Literal["pending", "active"] = "active"
    starts_on: Instant | None = None

    @field_validator("offer_code")
    @classmethod
    def _offer(cls, value: str) -> str:
        if value not in OFFER_CODES:
            raise ValueError(
                "not an offer of the catalogue (GET /v1/offers): " + ", ".join(sorted(OFFER_CODES))
            )
        return value

    @field_validator("line_number")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalize_phone(value).e164
        except InvalidValue as exc:
            raise ValueError(exc.reason) from exc

    @field_validator("installation_wilaya_code")
    @classmethod
    def _wilaya(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return format_wilaya_code(value)
        except InvalidValue as exc:
            raise ValueError(exc.reason) from exc

    @field_validator("starts_on")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time with its offset (RFC 3339)")
        return value


class ContractRead(BaseModel):
    id: str
    customer_id: str
    number: str
    offer_code: str
    line_number: str | None
    access_number: str | None
    installation_address: str | None
    installation_wilaya_code: str | None
    installation_commune: str | None
    installation_commune_code: str | None = None
    status: str
    starts_on: datetime | None
    ends_on: datetime | None
    created_at: datetime


def contract_read(row: Any) -> ContractRead:
    read = ContractRead.model_validate(row, from_attributes=True)
    return read.model_copy(
        update={
            "starts_on": as_utc(read.starts_on),
            "ends_on": as_utc(read.ends_on),
            "created_at": as_utc(read.created_at),
        }
    )


@router.post(
    "/{customer_id}/contracts",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractRead,
    summary="Add a contract to a customer",
)
async def add_contract(
    customer_id: str,
    body: ContractCreate,
    response: Response,
    runtime: RuntimeDep,
    principal: FrontOffice,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> dict[str, Any]:
    async with runtime.session_factory() as session:
        customer = await load_row(session, customer_id, reader=principal)
    if customer.erased_at is not None or customer.status == "closed":
        raise Conflict(f"A {customer.status} customer cannot take a new contract.")
    wilaya = body.installation_wilaya_code or customer.wilaya_code
    if not principal.serves_wilaya(wilaya):
        raise Forbidden(f"Your scope does not cover wilaya {wilaya}.")

    created = await flows.add_contract(
        runtime,
        principal,
        customer_id,
        body.model_dump(),
        wilaya=wilaya,
        idempotency_key=idempotency_key,
        request={"customer_id": customer_id, **body.model_dump(mode="json")},
        render=lambda row: ContractRead.model_validate(row).model_dump(mode="json"),
    )
    return created.render(
        response, location=f"/v1/customers/{customer_id}/contracts/{created.body['id']}"
    )


@router.get(
    "/{customer_id}/contracts", response_model=list[ContractRead], summary="A customer's contracts"
)
async def list_contracts(
    customer_id: str, runtime: RuntimeDep, principal: Caller
) -> list[ContractRead]:
    async with runtime.session_factory() as session:
        await load_row(session, customer_id, reader=principal)
        rows = (
            await session.execute(
                contracts_as_read()
                .where(contracts.c.customer_id == customer_id)
                .order_by(contracts.c.created_at.desc(), contracts.c.id)
            )
        ).all()
    await audit.record_reads(runtime.session_factory, principal, "contract.read", [customer_id])
    return [contract_read(row) for row in rows]


@router.get(
    "/{customer_id}/contracts/{contract_id}", response_model=ContractRead, summary="One contract"
)
async def get_contract(
    customer_id: str, contract_id: str, runtime: RuntimeDep, principal: Caller
) -> ContractRead:
    async with runtime.session_factory() as session:
        await load_row(session, customer_id, reader=principal)
        row = (
            await session.execute(
                contracts_as_read().where(
                    contracts.c.id == contract_id, contracts.c.customer_id == customer_id
                )
            )
        ).one_or_none()
    if row is None:
        raise NotFound(f"No contract {contract_id} for this customer.")
    await audit.record_reads(runtime.session_factory, principal, "contract.read", [customer_id])
    return contract_read(row)


class InstallationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The installation's commune in the reference; its wilaya becomes the contract's.
    installation_commune_code: str = Field(pattern=r"^\d{4}$")
    installation_address: str | None = Field(default=None, min_length=3, max_length=500)


@router.patch(
    "/{customer_id}/contracts/{contract_id}",
    response_model=ContractRead,
    summary="Place the installation in the reference (commune, street)",
)
async def place_installation(
    customer_id: str,
    contract_id: str,
    body: InstallationPatch,
    runtime: RuntimeDep,
    principal: FrontOffice,
) -> ContractRead:
    async with runtime.session_factory() as session:
        await load_row(session, customer_id, reader=principal)
    row = await installations.place_installation(
        runtime,
        principal,
        customer_id,
        contract_id,
        body.installation_commune_code,
        body.installation_address,
    )
    return contract_read(row)
