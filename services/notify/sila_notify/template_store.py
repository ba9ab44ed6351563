"""Templates as stored: the newest version per (event, variant, language, channel), rendered.

Event data arrives as JSON, so values are first turned into what each variable's type
expects (an ISO string into an aware datetime, a numeric string into an int).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_common.db import as_utc
from sila_notify.defaults import CAMPAIGN_TEMPLATES, DEFAULT_ROUTES, DefaultTemplate
from sila_notify.domain.templates import Language, VariableType, render
from sila_notify.tables import event_routes, templates

FALLBACK_LANGUAGE: Language = "fr"
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)")
SEED_AUTHOR = "seed"
ALL_CHANNELS = ("sms", "email", "push", "in_app")


@dataclass(frozen=True)
class Rendered:
    template: str
    version: int
    language: str
    subject: str | None
    body: str


class NoTemplate(LookupError):
    pass


def template_name(event_type: str, variant: str) -> str:
    return f"{event_type}:{variant}" if variant else event_type


def coerce(value: Any, variable_type: str) -> Any:
    """A JSON value turned into the Python value its template type renders from."""
    if not isinstance(value, str):
        return value
    try:
        if variable_type == VariableType.DATETIME:
            return as_utc(datetime.fromisoformat(value))
        if variable_type == VariableType.DATE:
            if "T" in value or " " in value:
                return coerce(value, VariableType.DATETIME)
            return date.fromisoformat(value)
        if (
            variable_type in (VariableType.INT, VariableType.MONEY_CENTIMES)
            and value.lstrip("-").isdigit()
        ):
            return int(value)
    except ValueError:
        return value
    return value


def coerce_all(variables: Mapping[str, str], data: Mapping[str, Any]) -> dict[str, Any]:
    return {name: coerce(data[name], kind) for name, kind in variables.items() if name in data}


def used_in(text: str, variables: Mapping[str, str]) -> dict[str, str]:
    names = set(PLACEHOLDER.findall(text))
    return {name: kind for name, kind in variables.items() if name in names}


def localised(data: Mapping[str, Any], language: str) -> Mapping[str, Any]:
    """The event's data with the members it names in every language (`i18n`: {"area_label":
    {"fr": "Bou Saada", "ar": "بوسعادة"}}) in the message's language: a place is named in the
    customer's script, never by a code."""
    names = data.get("i18n")
    if not isinstance(names, Mapping):
        return data
    chosen = {
        member: forms[language]
        for member, forms in names.items()
        if isinstance(forms, Mapping) and isinstance(forms.get(language), str)
    }
    return {**data, **chosen} if chosen else data


def render_row(row: Any, data: Mapping[str, Any], language: str, channel: str) -> Rendered:
    """Subject and body of a stored template; raises TemplateRenderError."""
    variables: dict[str, str] = dict(row.variables)
    lang: Language = language if language in ("fr", "ar", "en") else FALLBACK_LANGUAGE  # type: ignore[assignment]
    values = coerce_all(variables, localised(data, lang))
    # SMS reaches feature phones: no bidi isolates there (see domain.templates).
    isolates = channel in ("push", "in_app")
    body = render(row.body, variables, values, lang, bidi_isolates=isolates)
    subject = None
    if row.subject:
        subject = render(row.subject, used_in(row.subject, variables), values, lang)
    return Rendered(
        template=template_name(row.event_type, row.variant),
        version=int(row.version),
        language=lang,
        subject=subject,
        body=body,
    )


PLANNING_CACHE = "notify.planning_cache"


def cache_for_batch(session: AsyncSession) -> None:
    """Routes and templates read once per transaction (a consumer batch) instead of per event.

    The batch reads them as they were when it first needed them, as if its events had been
    planned a moment earlier; the next batch sees any change.
    """
    session.info.setdefault(PLANNING_CACHE, {})


def session_cache(session: AsyncSession) -> dict[Any, Any] | None:
    cache: dict[Any, Any] | None = session.info.get(PLANNING_CACHE)
    return cache


async def latest_template(
    session: AsyncSession, *, event_type: str, variant: str, language: str, channel: str
) -> Any:
    """The newest version in ``language``, else in French; None when there is none."""
    cache = session_cache(session)
    key = ("template", event_type, variant, language, channel)
    if cache is not None and key in cache:
        return cache[key]
    row = await _latest_template(
        session, event_type=event_type, variant=variant, language=language, channel=channel
    )
    if cache is not None:
        cache[key] = row
    return row


async def _latest_template(
    session: AsyncSession, *, event_type: str, variant: str, language: str, channel: str
) -> Any:
    for lang in dict.fromkeys((language, FALLBACK_LANGUAGE)):
        row = (
            await session.execute(
                latest_template_query(
                    event_type=event_type, variant=variant, language=lang, channel=channel
                )
            )
        ).one_or_none()
        if row is not None:
            return row
    return None


def latest_template_query(*, event_type: str, variant: str, language: str, channel: str) -> Any:
    return (
        select(templates)
        .where(
            templates.c.event_type == event_type,
            templates.c.variant == variant,
            templates.c.language == language,
            templates.c.channel == channel,
        )
        .order_by(templates.c.version.desc())
        .limit(1)
    )


async def render_for(
    session: AsyncSession,
    *,
    event_type: str,
    variant: str,
    language: str,
    channel: str,
    data: Mapping[str, Any],
) -> Rendered:
    row = await latest_template(
        session, event_type=event_type, variant=variant, language=language, channel=channel
    )
    if row is None:
        raise NoTemplate(f"no template for {template_name(event_type, variant)} on {channel}")
    return render_row(row, data, str(row.language), channel)


async def next_version(
    session: AsyncSession, *, event_type: str, variant: str, language: str, channel: str
) -> int:
    current = await session.scalar(
        select(func.max(templates.c.version)).where(
            templates.c.event_type == event_type,
            templates.c.variant == variant,
            templates.c.language == language,
            templates.c.channel == channel,
        )
    )
    return int(current or 0) + 1


def _seed_rows(
    event_type: str, template: DefaultTemplate, channels: tuple[str, ...]
) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "id": str(uuid.uuid4()),
            "event_type": event_type,
            "variant": template.variant,
            "language": language,
            "channel": channel,
            "version": 1,
            "subject": subject,
            "body": body,
            "variables": template.variables,
            "created_by": SEED_AUTHOR,
            "created_at": now,
        }
        for language, (subject, body) in template.texts.items()
        for channel in channels
    ]


async def seed_defaults(factory: async_sessionmaker[AsyncSession]) -> None:
    """The default routes and version 1 of every default template, where absent."""
    now = datetime.now(UTC)
    async with factory() as session, session.begin():
        for route in DEFAULT_ROUTES:
            await session.execute(
                insert(event_routes)
                .values(
                    event_type=route.event_type,
                    lane=route.lane,
                    urgent=route.urgent,
                    channels=list(route.channels),
                    condition=route.condition,
                    variant_field=route.variant_field,
                    enabled=True,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["event_type"])
            )
        rows = [
            row
            for route in DEFAULT_ROUTES
            for template in route.templates
            for row in _seed_rows(route.event_type, template, route.channels)
        ]
        rows += [
            row
            for event_type, template in CAMPAIGN_TEMPLATES
            for row in _seed_rows(event_type, template, ALL_CHANNELS)
        ]
        await session.execute(
            insert(templates)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=["event_type", "variant", "language", "channel", "version"]
            )
        )
