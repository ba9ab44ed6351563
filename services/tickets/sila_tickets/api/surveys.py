"""Satisfaction after resolution, and the generic questionnaire engine (the field study's)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from sila_common.auth import CurrentPrincipal, Principal, ensure_roles, require_roles
from sila_common.problems import Forbidden, Unprocessable
from sila_common.roles import SUPERVISION
from sila_tickets import flows
from sila_tickets.api.deps import RuntimeDep
from sila_tickets.api.views import AGENT_ROLES, ensure_visible
from sila_tickets.domain.questionnaire import (
    QuestionnaireError,
    parse_questionnaire,
)
from sila_tickets.flows.surveys import SurveyAnswer
from sila_tickets.tables import questionnaires

router = APIRouter(tags=["satisfaction"])


class SurveyBody(BaseModel):
    csat: int | None = Field(default=None, ge=1, le=5)
    nps: int | None = Field(default=None, ge=0, le=10)
    recommend: Literal["yes", "no", "maybe"] | None = None
    comment: str | None = Field(default=None, max_length=2000)
    # Optional: answers to a longer questionnaire (e.g. the field study's).
    questionnaire: str | None = Field(default=None, max_length=50)
    answers: dict[str, Any] | None = None
    recorded_on_call: bool = Field(
        default=False,
        description="Agents only, and required from them: the agent is recording the "
        "customer's own answer during a call (a call-back). The customer's own answer, "
        "if it comes later, replaces it.",
    )

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
    answered_by: str | None = None
    recorded_on_call: bool = False


@router.post(
    "/v1/tickets/{ticket_id}/survey",
    status_code=status.HTTP_201_CREATED,
    response_model=SurveyRead,
    summary="Answer the satisfaction survey (once, after resolution)",
)
async def answer_survey(
    ticket_id: str, body: SurveyBody, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Any:
    """The customer answers; an agent may record the customer's answer on a call.

    Only the ticket's customer, or an agent of the customer-care roles serving the ticket's
    wilaya who says they are recording it on a call (``recorded_on_call``). A recorded answer
    never blocks the customer: their own answer later replaces it. Once the customer has
    answered, nobody answers again.
    """
    if principal.kind == "agent":
        ensure_roles(principal, *AGENT_ROLES)
        if not body.recorded_on_call:
            raise Forbidden(
                "Agents do not answer a customer's survey; they record the customer's answer "
                "during a call (recorded_on_call: true).",
                slug="survey-is-the-customers",
            )
    elif principal.kind == "customer":
        if body.recorded_on_call:
            raise Unprocessable(
                "Only an agent records an answer on a call.",
                errors=[
                    {"field": "body.recorded_on_call", "message": "agents only", "type": "value"}
                ],
            )
    else:
        raise Forbidden("The customer answers, or an agent recording their answer on a call.")
    row = await flows.answer_survey(
        runtime,
        ticket_id,
        SurveyAnswer(
            csat=body.csat,
            nps=body.nps,
            recommend=body.recommend,
            comment=body.comment,
            questionnaire=body.questionnaire,
            answers=body.answers,
            answered_by=f"{principal.kind}:{principal.subject}",
            recorded_on_call=principal.kind == "agent",
        ),
        authorise=lambda ticket: ensure_visible(principal, ticket),
    )
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
    principal: Annotated[Principal, Depends(require_roles(*SUPERVISION))],
) -> Any:
    try:
        form = parse_questionnaire(body.code, body.document)
    except QuestionnaireError as exc:
        raise Unprocessable(
            "The questionnaire is not valid.", slug="invalid-questionnaire", errors=exc.errors
        ) from exc
    await flows.create_questionnaire(runtime, form, body.document)
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
    """A respondent answers for themself (a customer), or a customer-care agent records a
    respondent's answers (an interview; marked with the agent). Nobody else: not partners,
    not services, not other roles."""
    if principal.kind == "agent":
        ensure_roles(principal, *AGENT_ROLES)
    elif principal.kind != "customer":
        raise Forbidden("Respondents answer, or an agent recording their answers.")
    answered = await flows.respond(
        runtime,
        code,
        body.answers,
        customer_id=principal.customer_id if principal.kind == "customer" else None,
        recorded_by=f"agent:{principal.subject}" if principal.kind == "agent" else None,
    )
    return ResponseRead(
        id=answered.id,
        questionnaire=code,
        answers=answered.answers,
        submitted_at=answered.submitted_at,
    )
