"""Identity's periodic work, next to the relay: the customers and installations of a
commune moved to another wilaya follow it (`flows.reform.follow_moved_communes`)."""

from __future__ import annotations

import asyncio

import structlog

from sila_identity.flows.reform import follow_moved_communes
from sila_identity.runtime import IdentityRuntime

log = structlog.get_logger(__name__)


async def run_jobs(runtime: IdentityRuntime, stop: asyncio.Event) -> None:
    """A tick at once, then one every ``reform_follow_seconds`` until ``stop`` is set; a
    tick that fails is retried at the next (each move commits with its event, so a
    half-done tick leaves only what is left to do)."""
    interval = runtime.settings.reform_follow_seconds
    while not stop.is_set():
        try:
            report = await follow_moved_communes(runtime)
            if report is not None:
                log.info("moved communes followed", report=report.lines())
        except Exception:
            log.exception("following moved communes failed; retrying at the next tick")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
