"""Small SQL helpers notify's modules share."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE, DELETE or INSERT touched (a session hides the cursor type)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)
