"""Wake this process's dispatcher when messages are committed, instead of at its next poll.

The planner registers the lanes it queued on in the session; once the transaction commits,
every dispatcher lane loop of this process waiting on one of them looks at once. Other
processes find the rows at their next poll (``dispatcher_poll_seconds``).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

_WAITING: dict[str, weakref.WeakSet[asyncio.Event]] = {}
_SESSION_KEY = "notify.wake_lanes"


def listen(lane: str, wakeup: asyncio.Event) -> None:
    _WAITING.setdefault(lane, weakref.WeakSet()).add(wakeup)


def wake(lanes: Iterable[str]) -> None:
    for lane in lanes:
        for wakeup in list(_WAITING.get(lane, ())):
            wakeup.set()


def wake_after_commit(session: AsyncSession, lane: str) -> None:
    """Wake ``lane``'s senders once the session's transaction commits (not if it rolls back)."""
    lanes: set[str] | None = session.info.get(_SESSION_KEY)
    if lanes is None:
        lanes = session.info[_SESSION_KEY] = set()
        event.listen(session.sync_session, "after_commit", _after_commit)
        event.listen(session.sync_session, "after_rollback", _after_rollback)
    lanes.add(lane)


def _after_commit(sync_session: Any) -> None:
    lanes: set[str] = sync_session.info.get(_SESSION_KEY, set())
    wake(lanes)
    lanes.clear()


def _after_rollback(sync_session: Any) -> None:
    lanes: set[str] = sync_session.info.get(_SESSION_KEY, set())
    lanes.clear()
