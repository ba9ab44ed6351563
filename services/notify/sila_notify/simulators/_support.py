"""What both simulators share: a sliding-window rate counter, failure counters, a CLI runner."""

from __future__ import annotations

import argparse
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import uvicorn
from starlette.types import ASGIApp


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


def base_argument_parser(description: str, default_port: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    return parser


def run(app: ASGIApp, host: str, port: int) -> None:
    uvicorn.run(app, host=host, port=port, log_level="info")
