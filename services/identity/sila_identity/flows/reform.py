"""The November 2025 reform as a data migration, and the matching of typed communes.

`apply_reform` is idempotent and resumable (state decides, not a log): run it again after
a crash or a new batch of legacy data and it does only what is left. Each change of a
customer or contract commits with its event (an ordinary `identity.customer.updated` /
`identity.contract.updated`, so the timeline, tickets' and notify's directories and every
read model follow) and its audit row, 200 rows per transaction:

1. a free-text commune without a code is matched to the reference among the communes of
   the customer's wilaya and those carved out of it (accents, either script,
   transliteration variants); an ambiguous or unknown text is left for an agent
   (`unmatched`, `GET /v1/admin/identity/communes/unmatched`);
2. a customer or installation in a commune that a reform moved to a new wilaya moves to it;
3. agents scoped to a parent wilaya get the wilayas carved out of it, once
   (`reform_scope_grants`: an admin who takes a wilaya back is not overruled by a re-run).

`follow_moved_communes` is step 2 as a job (identity's serve and relay roles run it every
`reform_follow_seconds`): the customers and installations of a commune moved to another
wilaya, by the reform's data or by an admin's edits of the map (however many between two
ticks), follow it to the commune's wilaya of now without anyone running the command. Each
tick first asks PostgreSQL whether any row of a moved commune sits in another wilaya than
the commune's (index probes) and does nothing more when none does. The job grants no
scope: step 3 is the reform's, once, by the command (an admin's later edit of the map must
not widen an agent's scope by itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, exists, false, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.geography import Reference, candidates_for, match_commune
from sila_identity.directory import updated_payload
from sila_identity.domain.search import customer_name_keys
from sila_identity.events import CONTRACT_UPDATED, CUSTOMER_UPDATED, ContractUpdated
from sila_identity.flows import audit
from sila_identity.flows.geography import load_reference
from sila_identity.runtime import IdentityRuntime
from sila_identity.tables import agents, communes, contracts, customers, reform_scope_grants

BATCH = 200
REFORM = "reform"
MATCHED = "commune-matched"
SYSTEM = Principal(subject="identity.reform", kind="service")


@dataclass
class ReformReport:
    customers_moved: int = 0
    customers_matched: int = 0
    contracts_moved: int = 0
    contracts_matched: int = 0
    unmatched_customers: int = 0
    unmatched_contracts: int = 0
    # (agent id, username, wilaya granted, parent wilaya)
    scope_grants: list[tuple[str, str, str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"customers moved to a new wilaya: {self.customers_moved}",
            f"customers' communes matched: {self.customers_matched}",
            f"contracts moved to a new wilaya: {self.contracts_moved}",
            f"contracts' communes matched: {self.contracts_matched}",
            f"left for an agent (GET /v1/admin/identity/communes/unmatched): "
            f"{self.unmatched_customers} customers, {self.unmatched_contracts} contracts",
        ]
        out += [
            f"agent {username} ({agent_id}) scoped to {parent} now also serves {wilaya}"
            for agent_id, username, wilaya, parent in self.scope_grants
        ]
        return out


def place_for(
    reference: Reference, wilaya_code: str, commune_code: str | None, text: str | None
) -> tuple[str | None, str]:
    """(commune code, wilaya code) where the reform puts a customer or an installation: the
    wilaya of its commune now (a typed commune is matched among its wilaya's communes and
    those carved out of it)."""
    code = commune_code
    if code is None and text:
        found, _ = match_commune(text, candidates_for(reference, wilaya_code))
        code = found.code if found else None
    commune = reference.communes.get(code or "")
    if commune is not None and commune.wilaya_code != wilaya_code:
        return code, commune.wilaya_code
    return code, wilaya_code


def _not_in_its_communes_wilaya(commune_column: Any, wilaya_column: Any) -> Any:
    """A row whose wilaya is not its commune's now."""
    now = select(communes.c.wilaya_code).where(communes.c.code == commune_column)
    return wilaya_column != now.scalar_subquery()


def _has_rows_elsewhere(commune_column: Any, wilaya_column: Any, *where: Any) -> Any:
    """Whether the commune (of the enclosing query) has a row in another wilaya than its own
    now: two EXISTS, below and above its wilaya, each a range of the (commune, wilaya) index.
    (A `<>`, or an OR of both, reads every row of the commune: 136-225 ms a tick for a
    million customers and 128 moved communes, against 1.3-6 ms; EXPLAIN ANALYZE on synthetic
    rows.)"""
    below = exists().where(
        commune_column == communes.c.code, wilaya_column < communes.c.wilaya_code, *where
    )
    above = exists().where(
        commune_column == communes.c.code, wilaya_column > communes.c.wilaya_code, *where
    )
    return or_(below, above)


async def _ids(runtime: IdentityRuntime, table: Any, clause: Any, after: str | None) -> list[str]:
    query = select(table.c.id).where(clause).order_by(table.c.id).limit(BATCH)
    if after is not None:
        query = query.where(table.c.id > after)
    async with runtime.session_factory() as session:
        return list((await session.scalars(query)).all())


async def _each(
    runtime: IdentityRuntime, table: Any, clause: Any, apply: Callable[[AsyncSession, str], Any]
) -> None:
    # One transaction per batch: each change commits with its event and audit row, a crash
    # loses at most the batch in progress, and a re-run finds it still to do.
    after: str | None = None
    while ids := await _ids(runtime, table, clause, after):
        async with runtime.session_factory() as session, session.begin():
            for row_id in ids:
                await apply(session, row_id)
        after = ids[-1]


def _for_update(session: AsyncSession, query: Any) -> Any:
    return query.with_for_update()


async def apply_reform(runtime: IdentityRuntime) -> ReformReport:
    """The whole reform (the command): steps 1, 2 and 3."""
    async with runtime.session_factory() as session:
        reference = await load_reference(session)
    moved = [c.code for c in reference.communes.values() if c.former_wilaya_code]
    report = await _place_rows(runtime, reference, moved, match_typed_communes=True)
    report.scope_grants = await _grant_scopes(runtime, reference)
    return report


async def _place_rows(
    runtime: IdentityRuntime,
    reference: Reference,
    moved: list[str],
    *,
    match_typed_communes: bool,
) -> ReformReport:
    """Step 2 for the rows of the ``moved`` communes, and step 1 if asked (the job leaves
    it: matching free text is for imports of legacy data, and an unmatched text would be
    matched again at every tick)."""
    report = ReformReport()

    async def customer(session: AsyncSession, customer_id: str) -> None:
        row = (
            await session.execute(
                _for_update(session, select(customers).where(customers.c.id == customer_id))
            )
        ).one()
        code, wilaya = place_for(reference, row.wilaya_code, row.commune_code, row.commune)
        changes: dict[str, Any] = {}
        if code != row.commune_code:
            changes["commune_code"] = code
        if wilaya != row.wilaya_code:
            changes["wilaya_code"] = wilaya
        if not changes:
            if code is None:
                report.unmatched_customers += 1
            return
        reason = REFORM if "wilaya_code" in changes else MATCHED
        extra: dict[str, Any] = {}
        if "wilaya_code" in changes:
            extra["name_keys"] = customer_name_keys(
                wilaya_code=wilaya,
                first_name=row.first_name,
                last_name=row.last_name,
                first_name_ar=row.first_name_ar,
                last_name_ar=row.last_name_ar,
                company_name=row.company_name,
            )
            report.customers_moved += 1
        else:
            report.customers_matched += 1
        await session.execute(
            update(customers)
            .where(customers.c.id == customer_id)
            .values(**changes, **extra, version=row.version + 1, updated_at=datetime.now(UTC))
        )
        row = (await session.execute(select(customers).where(customers.c.id == customer_id))).one()
        changed = sorted(changes)
        await runtime.outbox.record(
            session,
            CUSTOMER_UPDATED,
            subject=customer_id,
            customer_id=customer_id,
            data=updated_payload(row, None, changed, reason=reason),
        )
        await audit.record(
            session,
            SYSTEM,
            "customer.update",
            customer_id=customer_id,
            detail={"fields": changed, "reason": reason},
        )

    async def contract(session: AsyncSession, contract_id: str) -> None:
        row = (
            await session.execute(
                _for_update(session, select(contracts).where(contracts.c.id == contract_id))
            )
        ).one()
        if row.installation_wilaya_code is None:
            return
        code, wilaya = place_for(
            reference,
            row.installation_wilaya_code,
            row.installation_commune_code,
            row.installation_commune,
        )
        changes: dict[str, Any] = {}
        if code != row.installation_commune_code:
            changes["installation_commune_code"] = code
        if wilaya != row.installation_wilaya_code:
            changes["installation_wilaya_code"] = wilaya
        if not changes:
            if code is None:
                report.unmatched_contracts += 1
            return
        reason = REFORM if "installation_wilaya_code" in changes else MATCHED
        if reason == REFORM:
            report.contracts_moved += 1
        else:
            report.contracts_matched += 1
        await session.execute(
            update(contracts).where(contracts.c.id == contract_id).values(**changes)
        )
        await runtime.outbox.record(
            session,
            CONTRACT_UPDATED,
            subject=contract_id,
            customer_id=row.customer_id,
            data=ContractUpdated(
                customer_id=row.customer_id,
                contract_id=row.id,
                number=row.number,
                offer_code=row.offer_code,
                line_number=row.line_number,
                status=row.status,
                installation_wilaya_code=wilaya,
                installation_commune_code=code,
                changed=sorted(changes),
                reason=reason,
            ),
        )
        await audit.record(
            session,
            SYSTEM,
            "contract.update",
            customer_id=row.customer_id,
            target=contract_id,
            detail={"fields": sorted(changes), "reason": reason},
        )

    await _each(
        runtime,
        customers,
        and_(
            customers.c.erased_at.is_(None),
            or_(
                and_(customers.c.commune_code.is_(None), customers.c.commune.is_not(None))
                if match_typed_communes
                else false(),
                and_(
                    customers.c.commune_code.in_(moved),
                    _not_in_its_communes_wilaya(customers.c.commune_code, customers.c.wilaya_code),
                ),
            ),
        ),
        customer,
    )
    await _each(
        runtime,
        contracts,
        or_(
            and_(
                contracts.c.installation_commune_code.is_(None),
                contracts.c.installation_commune.is_not(None),
            )
            if match_typed_communes
            else false(),
            and_(
                contracts.c.installation_commune_code.in_(moved),
                _not_in_its_communes_wilaya(
                    contracts.c.installation_commune_code, contracts.c.installation_wilaya_code
                ),
            ),
        ),
        contract,
    )
    return report


async def communes_left_behind(runtime: IdentityRuntime) -> list[str]:
    """The communes moved to another wilaya (ever) that have a customer or an installation
    in another wilaya than theirs now (index range probes on (commune, wilaya): cheap at
    every tick)."""
    query = (
        select(communes.c.code)
        .where(
            communes.c.former_wilaya_code.is_not(None),
            or_(
                _has_rows_elsewhere(
                    customers.c.commune_code,
                    customers.c.wilaya_code,
                    customers.c.erased_at.is_(None),
                ),
                _has_rows_elsewhere(
                    contracts.c.installation_commune_code, contracts.c.installation_wilaya_code
                ),
            ),
        )
        .order_by(communes.c.code)
    )
    async with runtime.session_factory() as session:
        return list((await session.scalars(query)).all())


async def follow_moved_communes(runtime: IdentityRuntime) -> ReformReport | None:
    """One tick of the job: None when no row is left behind, else what moved (no scope
    granted)."""
    left = await communes_left_behind(runtime)
    if not left:
        return None
    async with runtime.session_factory() as session:
        reference = await load_reference(session)
    return await _place_rows(runtime, reference, left, match_typed_communes=False)


async def _grant_scopes(
    runtime: IdentityRuntime, reference: Reference
) -> list[tuple[str, str, str, str]]:
    """Agents of a split wilaya keep seeing the customers carved out of it."""
    splits = reference.splits()
    granted: list[tuple[str, str, str, str]] = []
    async with runtime.session_factory() as session:
        rows = (await session.execute(select(agents.c.id))).all()
    for (agent_id,) in rows:
        async with runtime.session_factory() as session, session.begin():
            agent = (
                await session.execute(
                    _for_update(session, select(agents).where(agents.c.id == agent_id))
                )
            ).one()
            scope = list(agent.wilayas)
            if "*" in scope:
                continue
            done = set(
                (
                    await session.scalars(
                        select(reform_scope_grants.c.wilaya_code).where(
                            reform_scope_grants.c.agent_id == agent_id
                        )
                    )
                ).all()
            )
            new = [
                (child, parent)
                for parent in sorted(set(scope) & splits.keys())
                for child in splits[parent]
                if child not in done and child not in scope
            ]
            if not new:
                continue
            now = datetime.now(UTC)
            await session.execute(
                update(agents)
                .where(agents.c.id == agent_id)
                .values(wilayas=sorted({*scope, *(c for c, _ in new)}), updated_at=now)
            )
            await session.execute(
                insert(reform_scope_grants),
                [
                    {"agent_id": agent_id, "wilaya_code": c, "parent_code": p, "granted_at": now}
                    for c, p in new
                ],
            )
            await audit.record(
                session,
                SYSTEM,
                "agent.update",
                target=agent_id,
                detail={"fields": ["wilayas"], "reason": REFORM, "added": [c for c, _ in new]},
            )
            granted += [(agent_id, agent.username, c, p) for c, p in new]
    return granted


@dataclass
class Unmatched:
    kind: str
    id: str
    customer_id: str
    wilaya_code: str
    text: str
    candidates: list[dict[str, str]]


async def unmatched(
    session: AsyncSession,
    wilayas: frozenset[str],
    limit: int,
    after: str | None,
    kind: str = "customer",
) -> list[Unmatched]:
    """Customers (or contracts' installations) whose typed commune the reference could not
    place, with the communes it might be (several: ambiguous; none: unknown)."""
    reference = await load_reference(session)
    if kind == "contract":
        table, wilaya, text, code = (
            contracts,
            contracts.c.installation_wilaya_code,
            contracts.c.installation_commune,
            contracts.c.installation_commune_code,
        )
        owner = contracts.c.customer_id
        live = contracts.c.installation_wilaya_code.is_not(None)
    else:
        table, wilaya, text, code = (
            customers,
            customers.c.wilaya_code,
            customers.c.commune,
            (customers.c.commune_code),
        )
        owner = customers.c.id
        live = customers.c.erased_at.is_(None)
    query = select(
        table.c.id, owner.label("customer_id"), wilaya.label("wilaya"), text.label("text")
    ).where(code.is_(None), text.is_not(None), live)
    if "*" not in wilayas:
        query = query.where(wilaya.in_(sorted(wilayas)))
    if after is not None:
        query = query.where(table.c.id > after)
    out: list[Unmatched] = []
    for row in (await session.execute(query.order_by(table.c.id).limit(limit))).all():
        _, maybe = match_commune(row.text, candidates_for(reference, row.wilaya))
        out.append(
            Unmatched(
                kind=kind,
                id=row.id,
                customer_id=row.customer_id,
                wilaya_code=row.wilaya,
                text=row.text,
                candidates=[
                    {"code": c.code, "name_fr": c.name_fr, "name_ar": c.name_ar} for c in maybe
                ],
            )
        )
    return out
