"""Contracts: an offer on a line, with a readable number (AT-16-2026-0001234-7)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.app import RuntimeDep
from sila_common.idempotency import run_idempotent
from sila_common.inputs import Instant
from sila_common.problems import Conflict, Forbidden, NotFound
from sila_identity import audit
from sila_identity.api.deps import Caller, FrontOffice
from sila_identity.directory import aware, ensure_may_read, ensure_wilaya, load_row
from sila_identity.domain.customers import make_contract_number
from sila_identity.domain.errors import InvalidValue
from sila_identity.domain.phone import normalize_phone
from sila_identity.domain.wilayas import format_wilaya_code
from sila_identity.events import CONTRACT_SIGNED, ContractSigned
from sila_identity.flows import installations
from sila_identity.flows.geography import commune_for_text, ensure_commune
from sila_identity.tables import contract_counters, contracts

router = APIRouter(prefix="/v1/customers", tags=["contracts"])
ALGIERS = ZoneInfo("Africa/Algiers")


class ContractCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
            "starts_on": aware(read.starts_on),
            "ends_on": aware(read.ends_on),
            "created_at": aware(read.created_at),
        }
    )


async def next_contract_number(session: AsyncSession, wilaya_code: str, year: int) -> str:
    """The next number of the wilaya's sequence for the year (atomic, gap-free per commit)."""
    statement = (
        pg_insert(contract_counters)
        .values(wilaya_code=wilaya_code, year=year, last_value=1)
        .on_conflict_do_update(
            index_elements=["wilaya_code", "year"],
            set_={"last_value": contract_counters.c.last_value + 1},
        )
        .returning(contract_counters.c.last_value)
    )
    sequence = (await session.execute(statement)).scalar_one()
    return make_contract_number(wilaya_code, year, int(sequence))


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
        customer = await load_row(session, customer_id)
    ensure_may_read(principal, customer)
    if customer.erased_at is not None or customer.status == "closed":
        raise Conflict(f"A {customer.status} customer cannot take a new contract.")
    wilaya = body.installation_wilaya_code or customer.wilaya_code
    if not principal.serves_wilaya(wilaya):
        raise Forbidden(f"Your scope does not cover wilaya {wilaya}.")

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        await ensure_wilaya(session, wilaya, "body.installation_wilaya_code")
        commune_code = body.installation_commune_code
        if commune_code:
            await ensure_commune(
                session,
                commune_code,
                wilaya,
                commune_field="body.installation_commune_code",
                wilaya_field="body.installation_wilaya_code",
            )
        else:
            commune_code = await commune_for_text(session, wilaya, body.installation_commune)
        now = datetime.now(UTC)
        contract_id = str(uuid.uuid4())
        number = await next_contract_number(session, wilaya, now.astimezone(ALGIERS).year)
        row = body.model_dump() | {
            "id": contract_id,
            "customer_id": customer_id,
            "number": number,
            "installation_wilaya_code": wilaya,
            "installation_commune_code": commune_code,
            "ends_on": None,
            "created_at": now,
        }
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
                line_number=body.line_number,
                status=body.status,
                installation_wilaya_code=wilaya,
                installation_commune_code=commune_code,
            ),
        )
        await audit.record(
            session, principal, "contract.create", customer_id=customer_id, target=contract_id
        )
        return 201, ContractRead.model_validate(row).model_dump(mode="json")

    code, payload, replayed = await run_idempotent(
        runtime.session_factory,
        runtime.definition.tables.idempotency_keys,
        key=idempotency_key,
        principal=f"{principal.kind}:{principal.subject}",
        body={"customer_id": customer_id, **body.model_dump(mode="json")},
        work=work,
    )
    response.status_code = code
    response.headers["Location"] = f"/v1/customers/{customer_id}/contracts/{payload['id']}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return payload


@router.get(
    "/{customer_id}/contracts", response_model=list[ContractRead], summary="A customer's contracts"
)
async def list_contracts(
    customer_id: str, runtime: RuntimeDep, principal: Caller
) -> list[ContractRead]:
    async with runtime.session_factory() as session:
        customer = await load_row(session, customer_id)
        ensure_may_read(principal, customer)
        rows = (
            await session.execute(
                select(contracts)
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
        customer = await load_row(session, customer_id)
        ensure_may_read(principal, customer)
        row = (
            await session.execute(
                select(contracts).where(
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
        customer = await load_row(session, customer_id)
    ensure_may_read(principal, customer)
    row = await installations.place_installation(
        runtime,
        principal,
        customer_id,
        contract_id,
        body.installation_commune_code,
        body.installation_address,
    )
    return contract_read(row)
