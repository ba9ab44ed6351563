"""Agent scripts: the answers to a subcategory's questions, checked and merged."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sila_common.problems import Unprocessable
from sila_tickets.domain.catalogue import ScriptAnswerError, check_script_answers
from sila_tickets.flows.shared import load_ticket
from sila_tickets.reference import reference_of
from sila_tickets.runtime import TicketsRuntime
from sila_tickets.tables import tickets


def checked_script(
    script: Sequence[Mapping[str, Any]], answers: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The answers checked against the script, and the required questions still open."""
    try:
        return check_script_answers(script, answers)
    except ScriptAnswerError as exc:
        raise Unprocessable(
            "The script answers do not fit the subcategory's script.",
            slug="invalid-script-answers",
            errors=exc.errors,
        ) from exc


@dataclass(frozen=True)
class ScriptAnswers:
    subcategory: str
    answers: dict[str, Any]
    missing: list[str]


async def record_script_answers(
    runtime: TicketsRuntime,
    ticket_id: str,
    answers: Mapping[str, Any],
    *,
    authorise: Callable[[Any], None],
) -> ScriptAnswers:
    """Merge answers to the subcategory's script into a ticket the caller may see."""
    async with runtime.session_factory() as session, session.begin():
        row = await load_ticket(session, ticket_id, lock=True)
        authorise(row)
        if row.subcategory is None:
            raise Unprocessable(
                "This ticket has no subcategory, hence no script.", slug="no-script"
            )
        sub = (await reference_of(runtime).subcategories(session)).get(row.subcategory)
        script = sub.script if sub is not None else []
        merged = {**(row.script_answers or {}), **answers}
        clean, missing = checked_script(script, merged)
        await session.execute(
            tickets.update()
            .where(tickets.c.id == ticket_id)
            .values(script_answers=clean, updated_at=datetime.now(UTC))
        )
    return ScriptAnswers(row.subcategory, clean, missing)
