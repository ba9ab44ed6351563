"""Typed dependencies of tickets' routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sila_tickets.runtime import TicketsRuntime


def get_tickets_runtime(request: Request) -> TicketsRuntime:
    """The process's runtime, with tickets' settings (the app is made from tickets' definition)."""
    runtime: TicketsRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[TicketsRuntime, Depends(get_tickets_runtime)]
