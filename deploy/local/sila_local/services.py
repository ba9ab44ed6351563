"""The services the local tools know about, in start order, with their default ports."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from sila_common.service import ServiceDefinition

SERVICE_NAMES = ("identity", "tickets", "billing", "loyalty", "notify")
PORTS = {
    "gateway": 8000,
    "identity": 8001,
    "tickets": 8002,
    "billing": 8003,
    "loyalty": 8004,
    "notify": 8005,
}


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
