"""An agent places a contract's installation in the reference (after the reform or the
matching left it for them): the commune is checked against its wilaya, the change is an
`identity.contract.updated` event (tickets' directory follows) and is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.problems import Forbidden, NotFound
from sila_identity.events import CONTRACT_UPDATED, ContractUpdated
from sila_identity.flows import audit
from sila_identity.flows.geography import ensure_commune
from sila_identity.queries import contracts_as_read
from sila_identity.runtime import IdentityRuntime
from sila_identity.tables import communes, contracts


async def place_installation(
    runtime: IdentityRuntime,
    principal: Principal,
    customer_id: str,
    contract_id: str,
    commune_code: str,
    installation_address: str | None,
) -> Any:
    """The contract's row after the change (the wilaya is the commune's)."""
    async with runtime.session_factory() as session, session.begin():
        row = (
            await session.execute(
                select(contracts).where(
                    contracts.c.id == contract_id, contracts.c.customer_id == customer_id
                )
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"No contract {contract_id}.")
        wilaya = await session.scalar(
            select(communes.c.wilaya_code).where(communes.c.code == commune_code)
        )
        wilaya = str(wilaya or row.installation_wilaya_code or "")
        await ensure_commune(
            session,
            commune_code,
            wilaya,
            commune_field="body.installation_commune_code",
            wilaya_field="body.installation_commune_code",
        )
        if not principal.serves_wilaya(wilaya):
            raise Forbidden(f"Your scope does not cover wilaya {wilaya}.")
        changes: dict[str, Any] = {}
        if commune_code != row.installation_commune_code:
            changes["installation_commune_code"] = commune_code
        if wilaya != row.installation_wilaya_code:
            changes["installation_wilaya_code"] = wilaya
        if installation_address is not None and installation_address != row.installation_address:
            changes["installation_address"] = installation_address
        if not changes:
            return await _as_read(session, contract_id)
        await session.execute(
            update(contracts).where(contracts.c.id == contract_id).values(**changes)
        )
        await runtime.outbox.record(
            session,
            CONTRACT_UPDATED,
            subject=contract_id,
            customer_id=customer_id,
            data=ContractUpdated(
                customer_id=customer_id,
                contract_id=contract_id,
                number=row.number,
                offer_code=row.offer_code,
                line_number=row.line_number,
                status=row.status,
                installation_wilaya_code=wilaya,
                installation_commune_code=commune_code,
                changed=sorted(changes),
            ),
        )
        await audit.record(
            session,
            principal,
            "contract.update",
            customer_id=customer_id,
            target=contract_id,
            detail={"fields": sorted(changes)},
        )
        return await _as_read(session, contract_id)


async def _as_read(session: AsyncSession, contract_id: str) -> Any:
    return (await session.execute(contracts_as_read().where(contracts.c.id == contract_id))).one()
