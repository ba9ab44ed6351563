"""Opaque cursors for keyset pagination: a page boundary, base64-encoded."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from sila_common.problems import Unprocessable

ItemT = TypeVar("ItemT")


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def invalid_cursor() -> Unprocessable:
    """The 422 for a cursor this API did not give out (or one tampered with)."""
    return Unprocessable(
        "The cursor is not one this API gave out.",
        errors=[{"field": "query.cursor", "message": "invalid cursor", "type": "cursor"}],
    )


def decode_cursor(cursor: str, *, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise invalid_cursor() from exc
    if not isinstance(values, list) or len(values) != size:
        raise invalid_cursor()
    return values


def next_time_cursor(rows: Sequence[Any], limit: int, instant: str, key: str = "id") -> str | None:
    """The cursor of the page after ``rows[:limit]`` (read with one row more than ``limit``,
    newest first): the last row's ``instant`` and ``key``; None when no row follows."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor([getattr(last, instant).isoformat(), getattr(last, key)])


class KeysetPage(BaseModel, Generic[ItemT]):
    """One page of a list read by a key (newest first): the items, and the cursor that asks
    for the next page (None on the last one). A service names its own page by subclassing
    (``class TicketPage(KeysetPage[TicketSummary]): ...``) so its OpenAPI schema keeps a name.
    """

    items: list[ItemT]
    next_cursor: str | None
