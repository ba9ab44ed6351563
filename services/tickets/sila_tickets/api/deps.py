"""Typed dependencies of tickets' routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sila_common.app import runtime_of
from sila_tickets.runtime import TicketsRuntime


# async: FastAPI runs a plain ``def`` dependency in the thread pool (a thread hop per
# request, docs/benchmarks.md).
async def get_tickets_runtime(request: Request) -> TicketsRuntime:
    """The process's runtime, with tickets' settings (the app is made from tickets' definition)."""
    runtime: TicketsRuntime = runtime_of(request)
    return runtime


RuntimeDep = Annotated[TicketsRuntime, Depends(get_tickets_runtime)]
