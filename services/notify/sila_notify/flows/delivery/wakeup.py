"""Wake this process's dispatcher when messages are committed, instead of at its next poll.

The planner registers the lanes it queued on in the session; once the transaction commits,
every dispatcher lane loop of this process waiting on one of them looks at once. Other
processes find the rows at their next poll (``dispatcher_poll_seconds``).

Who waits is the runtime's ``Wakeups`` (a collaborator: ``wakeups_of(runtime)``), no module
state: two runtimes in one process (tests, ``make run``'s in-process checks) never wake each
other's dispatchers. Every session of the runtime carries it (the session factory's
``info``), so a planner that holds only a session still finds it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_notify.runtime import NotifyRuntime

_WAKEUPS_KEY = "notify.wakeups"
_SESSION_KEY = "notify.wake_lanes"


class Wakeups:
    """The dispatcher lane loops of one runtime waiting for new messages, by lane."""

    def __init__(self) -> None:
        self._waiting: dict[str, weakref.WeakSet[asyncio.Event]] = {}

    def listen(self, lane: str, wakeup: asyncio.Event) -> None:
        self._waiting.setdefault(lane, weakref.WeakSet()).add(wakeup)

    def wake(self, lanes: Iterable[str]) -> None:
        for lane in lanes:
            for wakeup in list(self._waiting.get(lane, ())):
                wakeup.set()

    def serve(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        """Every session the factory makes from now on carries these wakeups."""
        info = dict(session_factory.kw.get("info") or {})
        info[_WAKEUPS_KEY] = self
        session_factory.configure(info=info)


def wakeups_of(runtime: NotifyRuntime) -> Wakeups:
    """The runtime's wakeups, made and attached to its sessions on first use."""
    wakeups = runtime.collaborators.find(Wakeups)
    if wakeups is None:
        wakeups = runtime.collaborators.get_or_make(Wakeups, Wakeups)
        wakeups.serve(runtime.session_factory)
    return wakeups


def wake_after_commit(session: AsyncSession, lane: str) -> None:
    """Wake ``lane``'s senders once the session's transaction commits (not if it rolls back).
    A session of no notify runtime wakes nobody: the dispatchers find the rows at their poll."""
    if session.info.get(_WAKEUPS_KEY) is None:
        return
    lanes: set[str] | None = session.info.get(_SESSION_KEY)
    if lanes is None:
        lanes = session.info[_SESSION_KEY] = set()
        event.listen(session.sync_session, "after_commit", _after_commit)
        event.listen(session.sync_session, "after_rollback", _after_rollback)
    lanes.add(lane)


def _after_commit(sync_session: Any) -> None:
    lanes: set[str] = sync_session.info.get(_SESSION_KEY, set())
    wakeups: Wakeups | None = sync_session.info.get(_WAKEUPS_KEY)
    if wakeups is not None:
        wakeups.wake(lanes)
    lanes.clear()


def _after_rollback(sync_session: Any) -> None:
    lanes: set[str] = sync_session.info.get(_SESSION_KEY, set())
    lanes.clear()
