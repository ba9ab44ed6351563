"""Typed dependencies of billing's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sila_billing.runtime import BillingRuntime


async def get_billing_runtime(request: Request) -> BillingRuntime:
    """The process's runtime, with billing's settings (the app is made from its definition)."""
    runtime: BillingRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[BillingRuntime, Depends(get_billing_runtime)]
