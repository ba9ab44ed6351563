"""``uvicorn --factory benchmarks.apps:service_app --workers N``: the service named by
``SILA_BENCH_SERVICE`` built exactly as ``python -m sila_<name> api`` builds it, so that
several processes can share one listening socket (the second-process figure)."""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

from sila_common.app import create_app
from sila_local.services import SERVICES


def service_app() -> FastAPI:
    name = os.environ["SILA_BENCH_SERVICE"]
    definition = next(s for s in SERVICES if s.name == name).definition()
    return create_app(definition)


def smsc_app() -> Any:
    """The SMS centre simulator (Kannel's HTTP interface) in its own process."""
    from sila_simulators.smsc import SmscSimulatorConfig, create_smsc_app

    return create_smsc_app(SmscSimulatorConfig(dlr_delay_seconds=0.05))
