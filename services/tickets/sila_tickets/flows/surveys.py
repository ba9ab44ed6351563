"""Satisfaction after resolution, and the questionnaire engine (the field study's)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.problems import Conflict, NotFound, Unprocessable
from sila_tickets.domain.lifecycle import Status
from sila_tickets.domain.questionnaire import (
    Questionnaire,
    QuestionnaireError,
    check_answers,
    parse_questionnaire,
)
from sila_tickets.events import SURVEY_ANSWERED, SurveyAnswered
from sila_tickets.flows.shared import load_ticket
from sila_tickets.runtime import TicketsRuntime
from sila_tickets.tables import questionnaire_responses, questionnaires, surveys

ANSWERABLE = {Status.RESOLVED.value, Status.CLOSED.value}


@dataclass(frozen=True)
class SurveyAnswer:
    csat: int | None
    nps: int | None
    recommend: str | None
    comment: str | None
    questionnaire: str | None
    answers: dict[str, Any] | None
    # "customer:<id>", or "agent:<id>" recording the customer's answer on a call.
    answered_by: str
    recorded_on_call: bool = False


async def questionnaire(session: AsyncSession, code: str) -> Questionnaire:
    row = (
        await session.execute(select(questionnaires).where(questionnaires.c.code == code))
    ).one_or_none()
    if row is None:
        raise NotFound(f"No questionnaire {code}.")
    return parse_questionnaire(row.code, row.document)


def checked(form: Questionnaire, answers: dict[str, Any]) -> dict[str, Any]:
    try:
        return check_answers(form, answers)
    except QuestionnaireError as exc:
        raise Unprocessable(
            "Some answers do not fit the questionnaire.", slug="invalid-answers", errors=exc.errors
        ) from exc


async def answer_survey(
    runtime: TicketsRuntime,
    ticket_id: str,
    answer: SurveyAnswer,
    *,
    authorise: Callable[[Any], None],
) -> dict[str, Any]:
    """The survey of a resolved ticket the caller may see, answered once; its event.

    An answer an agent recorded on a call (``recorded_on_call``) never blocks the customer:
    their own answer later replaces it. Once the customer has answered, nobody answers again.
    """
    now = datetime.now(UTC)
    by_agent = answer.recorded_on_call
    try:
        async with runtime.session_factory() as session, session.begin():
            ticket = await load_ticket(session, ticket_id, lock=True)
            authorise(ticket)
            if ticket.status not in ANSWERABLE:
                raise Conflict(
                    "The survey opens once the ticket is resolved.",
                    slug="survey-before-resolution",
                    status_now=ticket.status,
                )
            already = (
                await session.execute(select(surveys).where(surveys.c.ticket_id == ticket_id))
            ).one_or_none()
            if already is not None and (by_agent or not already.recorded_on_call):
                raise Conflict(
                    "This ticket's survey is already answered.", slug="survey-already-answered"
                )
            row = {
                "ticket_id": ticket_id,
                "customer_id": ticket.customer_id,
                "csat": answer.csat,
                "nps": answer.nps,
                "recommend": answer.recommend,
                "comment": answer.comment,
                "answered_at": now,
                "answered_by": answer.answered_by[:150],
                "recorded_on_call": by_agent,
            }
            if already is not None:
                # The customer's own answer replaces the one an agent recorded for them.
                await session.execute(delete(surveys).where(surveys.c.ticket_id == ticket_id))
                await session.execute(
                    delete(questionnaire_responses).where(
                        questionnaire_responses.c.ticket_id == ticket_id
                    )
                )
            await session.execute(insert(surveys).values(**row))
            if answer.questionnaire and answer.answers:
                form = await questionnaire(session, answer.questionnaire)
                await session.execute(
                    insert(questionnaire_responses).values(
                        id=str(uuid.uuid4()),
                        questionnaire_code=form.code,
                        ticket_id=ticket_id,
                        customer_id=ticket.customer_id,
                        answers=checked(form, answer.answers),
                        submitted_at=now,
                        recorded_by=row["answered_by"] if by_agent else None,
                    )
                )
            await runtime.outbox.record(
                session,
                SURVEY_ANSWERED,
                subject=ticket_id,
                customer_id=ticket.customer_id,
                data=SurveyAnswered(
                    ticket_id=ticket_id,
                    customer_id=ticket.customer_id,
                    csat=answer.csat,
                    nps=answer.nps,
                    recommend=answer.recommend,
                    recorded_on_call=by_agent,
                ),
            )
    except IntegrityError as exc:  # a concurrent answer won
        raise Conflict(
            "This ticket's survey is already answered.", slug="survey-already-answered"
        ) from exc
    return row


async def create_questionnaire(
    runtime: TicketsRuntime, form: Questionnaire, document: dict[str, Any]
) -> None:
    """Store a (parsed, valid) questionnaire; a code is loaded once."""
    try:
        async with runtime.session_factory() as session, session.begin():
            await session.execute(
                insert(questionnaires).values(
                    code=form.code,
                    title=form.title,
                    language=form.language,
                    document=document,
                    created_at=datetime.now(UTC),
                )
            )
    except IntegrityError as exc:
        raise Conflict(f"A questionnaire {form.code} exists already.") from exc


@dataclass(frozen=True)
class Response:
    id: str
    answers: dict[str, Any]
    submitted_at: datetime


async def respond(
    runtime: TicketsRuntime,
    code: str,
    answers: dict[str, Any],
    *,
    customer_id: str | None,
    recorded_by: str | None = None,
) -> Response:
    """One respondent's answers to a questionnaire, checked against it (``recorded_by``: the
    agent who recorded them in an interview)."""
    now = datetime.now(UTC)
    response_id = str(uuid.uuid4())
    async with runtime.session_factory() as session, session.begin():
        form = await questionnaire(session, code)
        clean = checked(form, answers)
        await session.execute(
            insert(questionnaire_responses).values(
                id=response_id,
                questionnaire_code=code,
                ticket_id=None,
                customer_id=customer_id,
                answers=clean,
                submitted_at=now,
                recorded_by=recorded_by[:150] if recorded_by else None,
            )
        )
    return Response(response_id, clean, now)
