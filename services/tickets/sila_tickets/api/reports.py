"""Reports for supervisors: SLA compliance, response and resolution times, first-contact
resolution, backlog, CSAT, NPS and the answers per question, for any period, JSON or CSV."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy import and_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal, require_roles
from sila_common.db import as_utc
from sila_common.geography import Reference
from sila_common.inputs import Instant
from sila_common.problems import Unprocessable
from sila_tickets.api.deps import RuntimeDep
from sila_tickets.domain.calendar import ALGIERS
from sila_tickets.domain.lifecycle import OPEN
from sila_tickets.domain.metrics import csat_score, median, nps, percentile, share
from sila_tickets.domain.questionnaire import distribution, parse_questionnaire
from sila_tickets.flows.geography import map_in
from sila_tickets.tables import questionnaire_responses, questionnaires, surveys, tickets

router = APIRouter(prefix="/v1/reports", tags=["reports"])
# Sila holds no ticket before 2020; a period is at most five years (a year-on-year
# comparison over a plan), so a report never scans the whole history by mistake.
FIRST_REPORTED = datetime(2020, 1, 1, tzinfo=UTC)
LONGEST_PERIOD = timedelta(days=5 * 366)
Supervisor = Annotated[Principal, Depends(require_roles("supervisor"))]


def hours(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((as_utc(end) - as_utc(start)).total_seconds() / 3600, 2)


def spread(values: list[float]) -> dict[str, float | int | None]:
    p90 = percentile(values, 90)
    middle = median(values)
    return {
        "count": len(values),
        "median_hours": round(middle, 2) if middle is not None else None,
        "p90_hours": round(p90, 2) if p90 is not None else None,
    }


async def ticket_section(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    wilayas: list[str] | None,
    ref: Reference,
) -> dict[str, Any]:
    scope = tickets.c.wilaya_code.in_(wilayas) if wilayas is not None else true()
    in_period = or_(
        and_(tickets.c.opened_at >= start, tickets.c.opened_at < end),
        and_(tickets.c.resolved_at >= start, tickets.c.resolved_at < end),
    )
    rows = (await session.execute(select(tickets).where(scope, in_period))).all()
    opened = [r for r in rows if start <= r.opened_at < end]
    resolved = [r for r in rows if r.resolved_at is not None and start <= r.resolved_at < end]
    on_time = [r for r in resolved if r.due_at is None or r.resolved_at <= r.due_at]
    responded = [r for r in opened if r.first_responded_at is not None]
    responded_on_time = [
        r
        for r in responded
        if r.first_response_due_at is None or r.first_responded_at <= r.first_response_due_at
    ]
    first_contact = [r for r in resolved if r.first_contact_resolution]
    backlog_rows = (
        await session.execute(
            select(tickets.c.queue, tickets.c.wilaya_code, tickets.c.agency).where(
                scope, tickets.c.status.in_([s.value for s in OPEN]), tickets.c.opened_at < end
            )
        )
    ).all()
    return {
        "opened": len(opened),
        "resolved": len(resolved),
        "sla": {
            "resolved": len(resolved),
            "resolved_on_time": len(on_time),
            "compliance": share(len(on_time), len(resolved)),
            "first_response_given": len(responded),
            "first_response_on_time": len(responded_on_time),
            "first_response_compliance": share(len(responded_on_time), len(responded)),
            "breached": sum(1 for r in opened if r.breached_at is not None),
        },
        "first_response_time": spread(
            [h for r in responded if (h := hours(r.opened_at, r.first_responded_at)) is not None]
        ),
        "resolution_time": spread(
            [h for r in resolved if (h := hours(r.opened_at, r.resolved_at)) is not None]
        ),
        "first_contact_resolution": {
            "resolved": len(resolved),
            "at_first_contact": len(first_contact),
            "share": share(len(first_contact), len(resolved)),
        },
        "opened_by_wilaya": dict(Counter(as_of(r.wilaya_code, end, ref) for r in opened)),
        "backlog": {
            "total": len(backlog_rows),
            "by_queue": dict(Counter(r.queue for r in backlog_rows)),
            "by_wilaya": dict(Counter(as_of(r.wilaya_code, end, ref) for r in backlog_rows)),
            "by_agency": dict(Counter(r.agency or "none" for r in backlog_rows)),
        },
    }


def as_of(code: str | None, end: datetime, ref: Reference) -> str:
    """The wilaya as the map stood in the period: a wilaya created after the period ended
    is reported as the one it was carved out of (Bou Saâda before 2025 is M'Sila)."""
    wilaya = ref.wilayas.get(code or "")
    if wilaya is None:
        return code or "unknown"
    created = wilaya.established_on
    if created and wilaya.parent_code and end.astimezone(ALGIERS).date() <= created:
        return wilaya.parent_code
    return wilaya.code


def split_of(parent: str, ref: Reference) -> dict[str, Any]:
    """How the reform split a wilaya: into which, from when, in a sentence."""
    children = [ref.wilayas[code] for code in ref.splits()[parent]]
    since = children[0].established_on
    listed = ", ".join(f"{child.name_fr} ({child.code})" for child in children)
    return {
        "wilaya_code": parent,
        "names": ref.wilayas[parent].names(),
        "split_on": since.isoformat() if since else None,
        "into": [{"code": child.code, "names": child.names()} for child in children],
        "explanation": f"{ref.wilayas[parent].name_fr} : {listed} en sont détachées depuis le "
        f"{since} (réforme territoriale de 2025) ; les réclamations y sont comptées depuis.",
    }


def wilaya_section(counts: list[dict[str, int]], ref: Reference) -> dict[str, Any]:
    """The names of the wilayas the report counts (as the map with the admins' edits says),
    and how the reform split those concerned."""
    codes = sorted({code for count in counts for code in count if code in ref.wilayas})
    splits = ref.splits()
    concerned = {code for code in codes if code in splits}
    concerned |= {ref.wilayas[code].parent_code or "" for code in codes} & splits.keys()
    return {
        "names": {code: ref.wilayas[code].names() for code in codes},
        "splits": [split_of(parent, ref) for parent in sorted(concerned)],
    }


async def satisfaction_section(
    session: AsyncSession, start: datetime, end: datetime, wilayas: list[str] | None
) -> dict[str, Any]:
    query = select(surveys).where(surveys.c.answered_at >= start, surveys.c.answered_at < end)
    if wilayas is not None:
        query = query.where(
            surveys.c.ticket_id.in_(select(tickets.c.id).where(tickets.c.wilaya_code.in_(wilayas)))
        )
    rows = (await session.execute(query)).all()
    csat = [r.csat for r in rows if r.csat is not None]
    scores = [r.nps for r in rows if r.nps is not None]
    recommend = Counter(r.recommend for r in rows if r.recommend is not None)
    return {
        "responses": len(rows),
        "csat_average": round(sum(csat) / len(csat), 2) if csat else None,
        "csat_score": csat_score(csat),
        "nps": nps(scores),
        "nps_responses": len(scores),
        "recommend": {option: recommend.get(option, 0) for option in ("yes", "no", "maybe")},
    }


async def questionnaire_section(
    session: AsyncSession, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    report = []
    for form_row in await session.execute(select(questionnaires).order_by(questionnaires.c.code)):
        sheets = [
            answers
            for (answers,) in await session.execute(
                select(questionnaire_responses.c.answers).where(
                    questionnaire_responses.c.questionnaire_code == form_row.code,
                    questionnaire_responses.c.submitted_at >= start,
                    questionnaire_responses.c.submitted_at < end,
                )
            )
        ]
        form = parse_questionnaire(form_row.code, form_row.document)
        report.append(
            {
                "code": form.code,
                "title": form.title,
                "responses": len(sheets),
                "questions": distribution(form, sheets),
            }
        )
    return report


def flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [row for key, item in value.items() for row in flatten(f"{prefix}.{key}", item)]
    if isinstance(value, list):
        rows = []
        for item in value:
            label = item.get("key") or item.get("code") if isinstance(item, dict) else None
            rows += flatten(f"{prefix}.{label}", item) if label else [(prefix, str(item))]
        return rows
    return [(prefix, "" if value is None else str(value))]


@router.get("/tickets", summary="The tickets report for a period (format=json or csv)")
async def tickets_report(
    runtime: RuntimeDep,
    principal: Supervisor,
    from_: Annotated[Instant, Query(alias="from")],
    to: Instant,
    format: Literal["json", "csv"] = "json",
) -> Response:
    if from_.tzinfo is None or to.tzinfo is None:
        raise Unprocessable("from and to need a UTC offset (RFC 3339).", slug="naive-datetime")
    if to <= from_:
        raise Unprocessable("The period must end after it starts.", slug="empty-period")
    if from_ < FIRST_REPORTED or to - from_ > LONGEST_PERIOD:
        raise Unprocessable(
            f"A report covers at most {LONGEST_PERIOD.days} days from "
            f"{FIRST_REPORTED.date().isoformat()} on.",
            slug="period-out-of-range",
            errors=[{"field": "query.from", "message": "period out of range"}],
        )
    wilayas = None if "*" in principal.wilayas else sorted(principal.wilayas)
    async with runtime.session_factory() as session:
        ref = await map_in(session, runtime.collaborators)
        report: dict[str, Any] = {
            "period": {"from": from_.isoformat(), "to": to.isoformat()},
            "generated_at": datetime.now(UTC).isoformat(),
            "scope": wilayas or "*",
            "tickets": await ticket_section(session, from_, to, wilayas, ref),
            "satisfaction": await satisfaction_section(session, from_, to, wilayas),
            "questionnaires": await questionnaire_section(session, from_, to),
        }
        section = report["tickets"]
        report["wilayas"] = wilaya_section(
            [section["opened_by_wilaya"], section["backlog"]["by_wilaya"]], ref
        )
    if format == "json":
        return JSONResponse(report)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["metric", "value"])
    for section in ("tickets", "satisfaction", "questionnaires"):
        writer.writerows(flatten(section, report[section]))
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="tickets-report.csv"'},
    )
