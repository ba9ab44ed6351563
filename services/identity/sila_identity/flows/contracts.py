"""Contracts: a line signed for a customer, numbered in its wilaya's yearly sequence."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.idempotency import Created, create_once
from sila_identity.directory import ensure_wilaya
from sila_identity.domain.customers import make_contract_number
from sila_identity.events import CONTRACT_SIGNED, ContractSigned
from sila_identity.flows import audit
from sila_identity.flows.geography import commune_for_text, ensure_commune
from sila_identity.queries import contracts_as_read
from sila_identity.runtime import IdentityRuntime
from sila_identity.tables import contract_counters, contracts

ALGIERS = ZoneInfo("Africa/Algiers")


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


async def add_contract(
    runtime: IdentityRuntime,
    principal: Principal,
    customer_id: str,
    contract: dict[str, Any],
    *,
    wilaya: str,
    idempotency_key: str | None,
    request: Any,
    render: Callable[[dict[str, Any]], dict[str, Any]],
) -> Created:
    """Sign a contract (once per Idempotency-Key): its number, its event, the audit."""

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        await ensure_wilaya(session, wilaya, "body.installation_wilaya_code")
        commune_code = contract.get("installation_commune_code")
        if commune_code:
            await ensure_commune(
                session,
                commune_code,
                wilaya,
                commune_field="body.installation_commune_code",
                wilaya_field="body.installation_wilaya_code",
            )
        else:
            commune_code = await commune_for_text(
                session, wilaya, contract.get("installation_commune")
            )
        now = datetime.now(UTC)
        contract_id = str(uuid.uuid4())
        number = await next_contract_number(session, wilaya, now.astimezone(ALGIERS).year)
        row = contract | {
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
                offer_code=contract["offer_code"],
                line_number=contract["line_number"],
                status=contract["status"],
                installation_wilaya_code=wilaya,
                installation_commune_code=commune_code,
            ),
        )
        await audit.record(
            session, principal, "contract.create", customer_id=customer_id, target=contract_id
        )
        # As every read shows it: a placed commune by its name in the reference.
        shown = (
            await session.execute(contracts_as_read().where(contracts.c.id == contract_id))
        ).one()
        return 201, render(dict(shown._mapping))

    return await create_once(runtime, principal, key=idempotency_key, body=request, work=work)
