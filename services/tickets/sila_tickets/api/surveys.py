"""Satisfaction after resolution, and the generic questionnaire engine (the field study's)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import CurrentPrincipal, Principal, require_roles
from sila_common.problems import Conflict, Forbidden, NotFound, Unprocessable
from sila_tickets import flows
from sila_tickets.api.deps import RuntimeDep
from sila_tickets.api.views import AGENT_ROLES, ensure_visible
from sila_tickets.domain.lifecycle import Status
from sila_tickets.domain.questionnaire import (
    Questionnaire,
    QuestionnaireError,
    check_answers,
    parse_questionnaire,
)
from sila_tickets.events import SURVEY_ANSWERED, SurveyAnswered
from sila_tickets.tables import questionnaire_responses, questionnaires, surveys

router = APIRouter(tags=["satisfaction"])
ANSWERABLE = {Status.RESOLVED.value, Status.CLOSED.value}


class SurveyBody(BaseModel):
    csat: int | None = Field(default=None, ge=1, le=5)
    nps: int | None = Field(default=None, ge=0, le=10)
    recommend: Literal["yes", "no", "maybe"] | None = None
    comment: str | None = Field(default=None, max_length=2000)
    # Optional: answers to a longer questionnaire (e.g. the field study's).
    questionnaire: str | None = Field(default=None, max_length=50)
    answers: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _something(self) -> SurveyBody:
        if self.csat is None and self.nps is None and self.recommend is None and not self.answers:
            raise ValueError("a survey answer needs at least csat, nps, recommend or answers")
        if self.answers and not self.questionnaire:
            raise ValueError("answers need the questionnaire they answer")
        return self


class SurveyRead(BaseModel):
    ticket_id: str
    csat: int | None
    nps: int | None
    recommend: str | None
    comment: str | None
    answered_at: datetime


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


@router.post(
    "/v1/tickets/{ticket_id}/survey",
    status_code=status.HTTP_201_CREATED,
    response_model=SurveyRead,
    summary="Answer the satisfaction survey (once, after resolution)",
)
async def answer_survey(
    ticket_id: str, body: SurveyBody, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Any:
    if principal.kind not in ("customer", "agent"):
        raise Forbidden("The customer answers, or an agent calling them back.")
    now = datetime.now(UTC)
    try:
        async with runtime.session_factory() as session, session.begin():
            ticket = await flows.load_ticket(session, ticket_id, lock=True)
            ensure_visible(principal, ticket)
            if ticket.status not in ANSWERABLE:
                raise Conflict(
                    "The survey opens once the ticket is resolved.",
                    slug="survey-before-resolution",
                    status_now=ticket.status,
                )
            already = await session.scalar(
                select(surveys.c.ticket_id).where(surveys.c.ticket_id == ticket_id)
            )
            if already is not None:
                raise Conflict(
                    "This ticket's survey is already answered.", slug="survey-already-answered"
                )
            row = {
                "ticket_id": ticket_id,
                "customer_id": ticket.customer_id,
                "csat": body.csat,
                "nps": body.nps,
                "recommend": body.recommend,
                "comment": body.comment,
                "answered_at": now,
            }
            await session.execute(insert(surveys).values(**row))
            if body.questionnaire and body.answers:
                form = await questionnaire(session, body.questionnaire)
                await session.execute(
                    insert(questionnaire_responses).values(
                        id=str(uuid.uuid4()),
                        questionnaire_code=form.code,
                        ticket_id=ticket_id,
                        customer_id=ticket.customer_id,
                        answers=checked(form, body.answers),
                        submitted_at=now,
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
                    csat=body.csat,
                    nps=body.nps,
                    recommend=body.recommend,
                ),
            )
    except IntegrityError as exc:  # a concurrent answer won
        raise Conflict(
            "This ticket's survey is already answered.", slug="survey-already-answered"
        ) from exc
    return SurveyRead(**{k: v for k, v in row.items() if k != "customer_id"})


# --- questionnaires ------------------------------------------------------------------------


class QuestionnaireCreate(BaseModel):
    code: str = Field(min_length=2, max_length=50, pattern=r"^[a-z0-9_-]+$")
    document: dict[str, Any]


class QuestionnaireRead(BaseModel):
    code: str
    title: str
    language: str
    document: dict[str, Any]


@router.get(
    "/v1/surveys/questionnaires",
    response_model=list[QuestionnaireRead],
    summary="The questionnaires the engine carries",
)
async def list_questionnaires(runtime: RuntimeDep, principal: CurrentPrincipal) -> Any:
    async with runtime.session_factory() as session:
        rows = (await session.execute(select(questionnaires).order_by(questionnaires.c.code))).all()
    return [
        QuestionnaireRead(code=r.code, title=r.title, language=r.language, document=r.document)
        for r in rows
    ]


@router.post(
    "/v1/surveys/questionnaires",
    status_code=status.HTTP_201_CREATED,
    response_model=QuestionnaireRead,
    summary="Load a questionnaire (JSON document)",
)
async def create_questionnaire(
    body: QuestionnaireCreate,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require_roles("supervisor"))],
) -> Any:
    try:
        form = parse_questionnaire(body.code, body.document)
    except QuestionnaireError as exc:
        raise Unprocessable(
            "The questionnaire is not valid.", slug="invalid-questionnaire", errors=exc.errors
        ) from exc
    try:
        async with runtime.session_factory() as session, session.begin():
            await session.execute(
                insert(questionnaires).values(
                    code=form.code,
                    title=form.title,
                    language=form.language,
                    document=body.document,
                    created_at=datetime.now(UTC),
                )
            )
    except IntegrityError as exc:
        raise Conflict(f"A questionnaire {body.code} exists already.") from exc
    return QuestionnaireRead(
        code=form.code, title=form.title, language=form.language, document=body.document
    )


class ResponseBody(BaseModel):
    answers: dict[str, Any] = Field(min_length=1)


class ResponseRead(BaseModel):
    id: str
    questionnaire: str
    answers: dict[str, Any]
    submitted_at: datetime


@router.post(
    "/v1/surveys/questionnaires/{code}/responses",
    status_code=status.HTTP_201_CREATED,
    response_model=ResponseRead,
    summary="Record one respondent's answers",
)
async def respond(
    code: str, body: ResponseBody, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Any:
    if principal.kind == "agent" and not principal.has_role(*AGENT_ROLES):
        raise Forbidden("This needs an agent role.")
    now = datetime.now(UTC)
    response_id = str(uuid.uuid4())
    async with runtime.session_factory() as session, session.begin():
        form = await questionnaire(session, code)
        answers = checked(form, body.answers)
        await session.execute(
            insert(questionnaire_responses).values(
                id=response_id,
                questionnaire_code=code,
                ticket_id=None,
                customer_id=principal.customer_id if principal.kind == "customer" else None,
                answers=answers,
                submitted_at=now,
            )
        )
    return ResponseRead(id=response_id, questionnaire=code, answers=answers, submitted_at=now)
