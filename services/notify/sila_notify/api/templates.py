"""Templates (versioned, typed variables checked on save), previews, and which events speak."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from sila_common.auth import Principal, require_roles
from sila_common.problems import NotFound, Unprocessable
from sila_common.roles import ROLES
from sila_notify.api.deps import CONTENT_ROLES, RuntimeDep
from sila_notify.domain.sms import count_sms
from sila_notify.domain.templates import (
    TemplateProblem,
    TemplateRenderError,
    VariableType,
    validate_template,
)
from sila_notify.flows import templates as flows
from sila_notify.tables import event_routes, templates
from sila_notify.template_store import (
    latest_template,
    render_row,
    template_name,
    used_in,
)

router = APIRouter(prefix="/v1/templates", tags=["templates"])

_EVENT_TYPE = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)+$")
EventType = Annotated[
    str, Field(min_length=3, max_length=200, pattern=r"^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)+$")
]
Variant = Annotated[str, Field(max_length=50, pattern=r"^[a-z_]*$")]
ChannelName = Literal["sms", "email", "push", "in_app"]
LanguageCode = Literal["fr", "ar", "en"]
# Templates say nothing of any one customer: any staff role reads them.
Readers = Annotated[Principal, Depends(require_roles(*ROLES))]
Editors = Annotated[Principal, Depends(require_roles(*CONTENT_ROLES))]


class TemplateWrite(BaseModel):
    event_type: EventType
    variant: Variant = ""
    language: LanguageCode
    channel: ChannelName
    subject: str | None = Field(default=None, max_length=300)
    body: str = Field(min_length=1, max_length=2000)
    variables: dict[str, VariableType] = Field(default_factory=dict, max_length=30)


class TemplateRead(BaseModel):
    id: str
    name: str
    event_type: str
    variant: str
    language: str
    channel: str
    version: int
    subject: str | None
    body: str
    variables: dict[str, str]
    created_by: str
    created_at: datetime


class TemplateList(BaseModel):
    items: list[TemplateRead]


class PreviewRequest(BaseModel):
    # Either a stored template (event_type, variant, language, channel)...
    event_type: EventType | None = None
    variant: Variant = ""
    language: LanguageCode = "fr"
    channel: ChannelName = "sms"
    # ... or a draft not saved yet.
    subject: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, max_length=2000)
    variables: dict[str, VariableType] | None = None
    values: dict[str, Any] = Field(default_factory=dict)


class SmsCost(BaseModel):
    encoding: str
    units: int
    segments: int
    per_segment: int
    remaining_in_segment: int


class PreviewRead(BaseModel):
    template: str | None
    version: int | None
    language: str
    channel: str
    subject: str | None
    body: str
    sms: SmsCost


class RouteWrite(BaseModel):
    lane: Literal["otp", "service", "marketing"]
    urgent: bool = False
    channels: list[ChannelName] = Field(min_length=1, max_length=4)
    condition: dict[str, list[str | int | bool | None]] = Field(default_factory=dict)
    variant_field: str | None = Field(default=None, max_length=50, pattern=r"^[a-z_]+$")
    enabled: bool = True


class RouteRead(RouteWrite):
    event_type: str
    updated_at: datetime


def _problems(field: str, found: list[TemplateProblem]) -> list[dict[str, str]]:
    return [
        {
            "field": f"body.{field}" + (f".{p.name}" if p.name else ""),
            "message": p.detail,
            "type": p.code,
        }
        for p in found
    ]


def template_faults(
    body: str, subject: str | None, variables: dict[str, VariableType]
) -> list[dict[str, str]]:
    faults = _problems("body", validate_template(body, variables))
    if subject:
        # The subject may use some of the variables; every placeholder must be declared.
        subject_faults = validate_template(subject, used_in(subject, variables) or {})
        faults += _problems(
            "subject", [p for p in subject_faults if p.code not in ("unused_variable",)]
        )
        undeclared = [name for name in set(_placeholders(subject)) if name not in variables]
        faults += [
            {
                "field": f"body.subject.{name}",
                "message": f"{{{name}}} is not a declared variable",
                "type": "unknown_placeholder",
            }
            for name in undeclared
            if not any(f["field"] == f"body.subject.{name}" for f in faults)
        ]
    return faults


def _placeholders(text: str) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(text) if name]
    except ValueError:
        return []


def to_read(row: Any) -> TemplateRead:
    return TemplateRead(
        id=row.id,
        name=template_name(row.event_type, row.variant),
        event_type=row.event_type,
        variant=row.variant,
        language=row.language,
        channel=row.channel,
        version=row.version,
        subject=row.subject,
        body=row.body,
        variables=dict(row.variables),
        created_by=row.created_by,
        created_at=row.created_at or datetime.now(UTC),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TemplateRead,
    summary="Save a new version of a template (variables checked)",
)
async def save_template(
    body: TemplateWrite, runtime: RuntimeDep, principal: Editors
) -> TemplateRead:
    faults = template_faults(body.body, body.subject, body.variables)
    if faults:
        raise Unprocessable(
            f"The template has {len(faults)} problem(s).",
            slug="invalid-template",
            title="Invalid template",
            errors=faults,
        )
    row = await flows.save_template(
        runtime,
        event_type=body.event_type,
        variant=body.variant,
        language=body.language,
        channel=body.channel,
        subject=body.subject,
        body=body.body,
        variables={k: v.value for k, v in body.variables.items()},
        created_by=f"{principal.kind}:{principal.subject}"[:100],
    )
    return TemplateRead(name=template_name(body.event_type, body.variant), **row)


@router.get("", response_model=TemplateList, summary="Templates (the newest versions by default)")
async def list_templates(
    runtime: RuntimeDep,
    principal: Readers,
    event_type: Annotated[str | None, Query(max_length=200)] = None,
    language: LanguageCode | None = None,
    channel: ChannelName | None = None,
    all_versions: bool = False,
) -> TemplateList:
    query = select(templates)
    if event_type:
        query = query.where(templates.c.event_type == event_type)
    if language:
        query = query.where(templates.c.language == language)
    if channel:
        query = query.where(templates.c.channel == channel)
    if not all_versions:
        newest = (
            select(
                templates.c.event_type,
                templates.c.variant,
                templates.c.language,
                templates.c.channel,
                func.max(templates.c.version).label("version"),
            )
            .group_by(
                templates.c.event_type,
                templates.c.variant,
                templates.c.language,
                templates.c.channel,
            )
            .subquery()
        )
        query = query.join(
            newest,
            (newest.c.event_type == templates.c.event_type)
            & (newest.c.variant == templates.c.variant)
            & (newest.c.language == templates.c.language)
            & (newest.c.channel == templates.c.channel)
            & (newest.c.version == templates.c.version),
        )
    query = query.order_by(
        templates.c.event_type,
        templates.c.variant,
        templates.c.language,
        templates.c.channel,
        templates.c.version.desc(),
    ).limit(2000)
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    return TemplateList(items=[to_read(r) for r in rows])


@router.post("/preview", response_model=PreviewRead, summary="Render a template with sample values")
async def preview(body: PreviewRequest, runtime: RuntimeDep, principal: Readers) -> PreviewRead:
    if body.body is not None:
        variables = body.variables or {}
        faults = template_faults(body.body, body.subject, variables)
        if faults:
            raise Unprocessable(
                "The draft template has problems.",
                slug="invalid-template",
                title="Invalid template",
                errors=faults,
            )
        row: Any = _Draft(body, variables)
    elif body.event_type is not None:
        async with runtime.session_factory() as session:
            row = await latest_template(
                session,
                event_type=body.event_type,
                variant=body.variant,
                language=body.language,
                channel=body.channel,
            )
        if row is None:
            raise NotFound(
                f"No template {template_name(body.event_type, body.variant)} "
                f"for {body.language} on {body.channel}."
            )
    else:
        raise Unprocessable(
            "Give either a stored template's event_type or a draft body.",
            errors=[{"field": "body.body", "message": "or body.event_type", "type": "missing"}],
        )
    try:
        rendered = render_row(row, body.values, str(row.language), body.channel)
    except TemplateRenderError as error:
        raise Unprocessable(
            "The values do not fit the template.",
            slug="invalid-values",
            title="Invalid values",
            errors=_problems("values", error.problems),
        ) from error
    cost = count_sms(rendered.body)
    return PreviewRead(
        template=rendered.template if body.body is None else None,
        version=rendered.version if body.body is None else None,
        language=rendered.language,
        channel=body.channel,
        subject=rendered.subject,
        body=rendered.body,
        sms=SmsCost(
            encoding=cost.encoding,
            units=cost.units,
            segments=cost.segments,
            per_segment=cost.per_segment,
            remaining_in_segment=cost.remaining_in_segment,
        ),
    )


class _Draft:
    """A template not stored yet, shaped like a stored row for rendering."""

    def __init__(self, body: PreviewRequest, variables: dict[str, VariableType]) -> None:
        self.event_type = body.event_type or "draft"
        self.variant = body.variant
        self.language = body.language
        self.version = 0
        self.subject = body.subject
        self.body = body.body
        self.variables = {k: v.value for k, v in variables.items()}


@router.get("/routes", response_model=list[RouteRead], summary="Which events speak, and how")
async def list_routes(runtime: RuntimeDep, principal: Readers) -> list[RouteRead]:
    async with runtime.session_factory() as session:
        rows = (
            await session.execute(select(event_routes).order_by(event_routes.c.event_type))
        ).all()
    return [_route(r) for r in rows]


@router.put(
    "/routes/{event_type}", response_model=RouteRead, summary="Make an event speak (or not)"
)
async def put_route(
    event_type: str, body: RouteWrite, runtime: RuntimeDep, principal: Editors
) -> RouteRead:
    if not _EVENT_TYPE.match(event_type):
        raise Unprocessable(
            "Not an event type.",
            errors=[{"field": "path.event_type", "message": "svc.entity.verb", "type": "pattern"}],
        )
    row = await flows.put_route(runtime, event_type, body.model_dump())
    return _route(row)


def _route(row: Any) -> RouteRead:
    return RouteRead(
        event_type=row.event_type,
        lane=row.lane,
        urgent=row.urgent,
        channels=list(row.channels),
        condition=dict(row.condition),
        variant_field=row.variant_field,
        enabled=row.enabled,
        updated_at=row.updated_at or datetime.now(UTC),
    )
