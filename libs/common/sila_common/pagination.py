"""Opaque cursors for keyset pagination: a page boundary, base64-encoded."""

from __future__ import annotations

import base64
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from sila_common.problems import Unprocessable

ItemT = TypeVar("ItemT")


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise Unprocessable(
            "The cursor is not one this API gave out.",
            errors=[{"field": "query.cursor", "message": "invalid cursor", "type": "cursor"}],
        ) from exc
    if not isinstance(values, list) or len(values) != size:
        raise Unprocessable(
            "The cursor is not one this API gave out.",
            errors=[{"field": "query.cursor", "message": "invalid cursor", "type": "cursor"}],
        )
    return values


class KeysetPage(BaseModel, Generic[ItemT]):
    """One page of a list read by a key (newest first): the items, and the cursor that asks
    for the next page (None on the last one). A service names its own page by subclassing
    (``class TicketPage(KeysetPage[TicketSummary]): ...``) so its OpenAPI schema keeps a name.
    """

    items: list[ItemT]
    next_cursor: str | None
