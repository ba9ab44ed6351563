"""The November 2025 reform in what tickets owns (a use case, run by
``python -m sila_tickets apply-reform``; idempotent and resumable: the state decides).

Customers, their installations and their live tickets follow identity's events (the
directory's handlers). What only tickets knows moves here:

- agencies: a typed commune is matched to the reference (`commune_code`); an agency in a
  commune carved out into a new wilaya moves to it (its hours and due dates go with it);
- active incidents over a commune or a daïra now in a new wilaya move to it (the agents of
  that wilaya see them);
- each move of an agency or an incident is an ordinary event (`tickets.agency.relocated`,
  `tickets.incident.relocated`, keyed by the agency code / incident id, about no customer),
  recorded with the move; tickets keeps no audit table, so the event (with its actor) and
  the agency's `updated_by` are the record of who moved it;
- queues: a new wilaya gets, once per queue, the members its parent wilaya has, so the
  tickets that moved are still assigned; supervisors change them afterwards (`reform_steps`
  remembers it was done: a later run does not undo their choice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from sila_common.geography import Reference, candidates_for, match_commune
from sila_tickets.domain.incidents import AreaKind
from sila_tickets.flows.geography import map_in, relocate_agency, relocate_incident
from sila_tickets.reference import reference_of
from sila_tickets.runtime import TicketsRuntime
from sila_tickets.tables import agencies, incidents, queue_agents, reform_steps

ACTOR = "service:tickets.reform"
REASON = "reform-2025"
QUEUE_STEP = "queue"


@dataclass
class TicketsReformReport:
    agencies_moved: list[str] = field(default_factory=list)
    agencies_matched: list[str] = field(default_factory=list)
    agencies_unmatched: list[str] = field(default_factory=list)
    incidents_moved: list[str] = field(default_factory=list)
    queue_members_added: int = 0

    def lines(self) -> list[str]:
        return [
            f"agencies moved to a new wilaya: {', '.join(self.agencies_moved) or 'none'}",
            f"agencies' communes matched: {len(self.agencies_matched)}",
            "agencies whose commune is left to fix: "
            f"{', '.join(self.agencies_unmatched) or 'none'}",
            f"active incidents moved: {len(self.incidents_moved)}",
            f"queue members given a new wilaya: {self.queue_members_added}",
        ]


def _place(
    ref: Reference, wilaya: str, code: str | None, text: str | None
) -> tuple[str | None, str]:
    if code is None and text:
        found, _ = match_commune(text, candidates_for(ref, wilaya))
        code = found.code if found else None
    commune = ref.communes.get(code or "")
    if commune is not None and commune.former_wilaya_code == wilaya:
        return code, commune.wilaya_code
    return code, wilaya


async def apply_reform(runtime: TicketsRuntime) -> TicketsReformReport:
    report = TicketsReformReport()
    now = datetime.now(UTC)
    async with runtime.session_factory() as session, session.begin():
        ref = await map_in(session, runtime.collaborators)
        for row in (await session.execute(select(agencies).with_for_update())).all():
            code, wilaya = _place(ref, row.wilaya_code, row.commune_code, row.commune)
            if code is None:
                if row.commune:
                    report.agencies_unmatched.append(row.code)
                continue
            if (code, wilaya) == (row.commune_code, row.wilaya_code):
                continue
            if wilaya != row.wilaya_code:
                report.agencies_moved.append(row.code)
                await relocate_agency(
                    session,
                    runtime.outbox,
                    row,
                    commune_code=code,
                    wilaya_code=wilaya,
                    reason=REASON,
                    actor=ACTOR,
                    now=now,
                )
                continue
            report.agencies_matched.append(row.code)
            await session.execute(
                update(agencies)
                .where(agencies.c.code == row.code)
                .values(commune_code=code, updated_by=ACTOR, updated_at=now)
            )
        active = (
            await session.execute(
                select(incidents)
                .where(
                    incidents.c.status == "active",
                    incidents.c.area_kind.in_([AreaKind.COMMUNE.value, AreaKind.DAIRA.value]),
                )
                .with_for_update()
            )
        ).all()
        for row in active:
            place = (
                ref.communes.get(row.area_value)
                if row.area_kind == AreaKind.COMMUNE.value
                else ref.dairas.get(row.area_value)
            )
            if place is not None and place.wilaya_code != row.wilaya_code:
                await relocate_incident(
                    session,
                    runtime.outbox,
                    row,
                    wilaya_code=place.wilaya_code,
                    reason=REASON,
                    actor=ACTOR,
                )
                report.incidents_moved.append(row.id)
        members = (await session.execute(select(queue_agents))).all()
        done = set(
            (
                await session.scalars(
                    select(reform_steps.c.key).where(reform_steps.c.step == QUEUE_STEP)
                )
            ).all()
        )
        for parent, children in ref.splits().items():
            for queue in sorted({m.queue for m in members if m.wilaya_code == parent}):
                for child in children:
                    key = f"{queue}/{child}"
                    if key in done:
                        continue
                    for member in (
                        m for m in members if (m.queue, m.wilaya_code) == (queue, parent)
                    ):
                        await session.execute(
                            pg_insert(queue_agents)
                            .values(
                                queue=queue,
                                wilaya_code=child,
                                agent_id=member.agent_id,
                                last_assigned_at=None,
                                added_by=ACTOR,
                                added_at=now,
                            )
                            .on_conflict_do_nothing()
                        )
                        report.queue_members_added += 1
                    await session.execute(
                        insert(reform_steps).values(step=QUEUE_STEP, key=key, done_at=now)
                    )
    # Agencies may have moved: the cached copy is read again.
    reference_of(runtime).invalidate()
    return report
