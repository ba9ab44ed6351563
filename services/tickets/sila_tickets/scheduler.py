"""The escalation scheduler: a pass of ``flows.escalation`` every
``scheduler_interval_seconds``, next to the relay (safe with several instances running).
"""

from __future__ import annotations

import asyncio

import structlog

from sila_common.aio import wait_or_timeout
from sila_tickets.flows.escalation import run_escalation_pass
from sila_tickets.runtime import TicketsRuntime

log = structlog.get_logger(__name__)


async def run_scheduler(runtime: TicketsRuntime, stop: asyncio.Event) -> None:
    """Run passes every ``scheduler_interval_seconds`` until ``stop`` is set."""
    interval = runtime.settings.scheduler_interval_seconds
    batch = runtime.settings.scheduler_batch_size
    log.info("scheduler.started", interval=interval)
    while not stop.is_set():
        try:
            result = await run_escalation_pass(runtime, batch_size=batch)
            if result.warned or result.breached or result.closed:
                log.info(
                    "scheduler.pass",
                    warned=result.warned,
                    breached=result.breached,
                    closed=result.closed,
                )
        except Exception as exc:  # a failed pass is retried at the next tick
            log.warning("scheduler.pass_failed", error=f"{type(exc).__name__}: {exc}")
        await wait_or_timeout(stop, interval)
