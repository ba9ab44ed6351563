"""What every simulator shares: its description for ``make run`` (``SimulatorSpec``), the
message viewer's inbox shape (``InboxEntry``), rate and failure counters, the faults a test
plans for a payment gateway's next calls (``Faults``), a CLI runner."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

Channel = Literal["sms", "push", "email", "payment"]


@dataclass(frozen=True, slots=True)
class SimulatorSpec:
    """One third party as ``make run`` starts it: ``python -m sila_simulators <name> --port N``.

    ``ports`` maps each command-line flag to its offset from ``make run``'s base port (8000):
    ``{"port": 13}`` runs the simulator with ``--port 8013``. ``port`` is its HTTP port, where
    ``/_sim/inbox`` lists what it received when ``inbox`` is true (the message viewer reads it).
    ``service_env`` turns the ports chosen into the variables that point the services at it.
    """

    name: str
    summary: str
    main: Callable[[Sequence[str] | None], None]
    ports: Mapping[str, int]
    service_env: Callable[[Mapping[str, int]], dict[str, str]]
    inbox: bool = True


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """What a phone, device or mailbox received, as the message viewer lists it."""

    id: str
    channel: Channel
    to: str
    sender: str
    subject: str | None
    text: str
    received_at: datetime
    status: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "to": self.to,
            "from": self.sender,
            "subject": self.subject,
            "text": self.text,
            "received_at": self.received_at.isoformat(),
            "status": self.status,
        }


@dataclass
class SlidingWindowLimit:
    """Allows at most `max_events` per `period_seconds`; None means unlimited."""

    max_events: int | None
    period_seconds: float
    clock: Callable[[], float] = time.monotonic
    _events: deque[float] = field(default_factory=deque)

    def try_acquire(self) -> bool:
        if self.max_events is None:
            return True
        now = self.clock()
        while self._events and self._events[0] <= now - self.period_seconds:
            self._events.popleft()
        if len(self._events) >= self.max_events:
            return False
        self._events.append(now)
        return True

    def reset(self) -> None:
        self._events.clear()


@dataclass
class TemporaryFailures:
    """Fails the first `failures_before_success` attempts for each key, then lets it through."""

    failures_before_success: int
    _attempts: Counter[str] = field(default_factory=Counter)

    def should_fail(self, key: str) -> bool:
        self._attempts[key] += 1
        return self._attempts[key] <= self.failures_before_success

    def reset(self) -> None:
        self._attempts.clear()


@dataclass
class Fault:
    mode: str  # "error" (HTTP 500) or "hang"
    remaining: int


@dataclass
class Faults:
    """What a test asks of a simulator's next calls, by operation (``POST /_sim/faults`` with
    ``{operation: {"mode": "error" | "hang", "count": n}}``): answer a 500, or hang first."""

    hang_seconds: float
    error_body: dict[str, Any]
    planned: dict[str, Fault] = field(default_factory=dict)

    async def failure(self, operation: str) -> Response | None:
        """The planned failure of this call of ``operation``, or None to serve it."""
        fault = self.planned.get(operation)
        if fault is None or fault.remaining <= 0:
            return None
        fault.remaining -= 1
        if fault.mode == "hang":
            await asyncio.sleep(self.hang_seconds)
        return JSONResponse(self.error_body, status_code=500)

    async def plan(self, request: Request) -> Response:
        """``POST /_sim/faults``: answers what remains planned."""
        body = await request.json()
        for operation, spec in body.items():
            self.planned[operation] = Fault(spec.get("mode", "error"), int(spec.get("count", 1)))
        return JSONResponse({"faults": {k: v.remaining for k, v in self.planned.items()}})


async def health(request: Request) -> Response:
    """``GET /_sim/health``: the simulator is listening."""
    return JSONResponse({"status": "ok"})


def base_argument_parser(description: str, default_port: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    return parser


def run(app: ASGIApp, host: str, port: int) -> None:
    """Serve ``app`` (its own process, as ``make run`` starts it)."""
    uvicorn.run(app, host=host, port=port, log_level="info")
