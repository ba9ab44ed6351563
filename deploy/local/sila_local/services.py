"""The services the local tools know about, in start order, and ``make run``'s ports.

Every port is an offset from one base port (``SILA_LOCAL_BASE_PORT``, 8000): the gateway on
the base, the services on base + 1..5, the message viewer on base + 10, the simulators on
their own offsets (sila_simulators), the embedded PostgreSQL on base + 32. The broker has its
own (``SILA_LOCAL_BROKER_PORT``, 9092). A second ``make run`` (or the smoke test) moves both.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any

from sila_common.service import ServiceDefinition

SERVICE_NAMES = ("identity", "tickets", "billing", "loyalty", "notify")
DEFAULT_BASE_PORT = 8000
DEFAULT_BROKER_PORT = 9092
OFFSETS = {
    "gateway": 0,
    "identity": 1,
    "tickets": 2,
    "billing": 3,
    "loyalty": 4,
    "notify": 5,
    "viewer": 10,
    "postgres": 32,
}
PORTS = {name: DEFAULT_BASE_PORT + offset for name, offset in OFFSETS.items()}


def base_port() -> int:
    return int(os.environ.get("SILA_LOCAL_BASE_PORT", DEFAULT_BASE_PORT))


def broker_port() -> int:
    return int(os.environ.get("SILA_LOCAL_BROKER_PORT", DEFAULT_BROKER_PORT))


def ports(base: int) -> dict[str, int]:
    """Our own processes' ports for this base port."""
    return {name: base + offset for name, offset in OFFSETS.items()}


@dataclass(frozen=True)
class ServiceRef:
    name: str
    port: int

    @property
    def module(self) -> str:
        return f"sila_{self.name}"

    def definition(self) -> ServiceDefinition[Any]:
        module = importlib.import_module(f"{self.module}.service")
        definition = module.definition
        assert isinstance(definition, ServiceDefinition)
        return definition


SERVICES = [ServiceRef(name, PORTS[name]) for name in SERVICE_NAMES]
