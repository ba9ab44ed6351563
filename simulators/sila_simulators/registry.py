"""Every simulator, by name: ``make run`` starts each in its own process, the message viewer
reads the inbox of each that has one. Adding a simulator: its module, and its name here."""

from __future__ import annotations

import importlib

from sila_simulators.support import SimulatorSpec

NAMES = (
    "smsc",
    "fcm",
    "smtp",
    "satim",
    "khlass",
)


def simulator(name: str) -> SimulatorSpec:
    """The ``SIMULATOR`` spec of ``sila_simulators.<name>``."""
    if name not in NAMES:
        raise KeyError(f"no simulator {name!r}; there are {', '.join(NAMES)}")
    spec = importlib.import_module(f"sila_simulators.{name}").SIMULATOR
    assert isinstance(spec, SimulatorSpec)
    return spec


def simulators() -> list[SimulatorSpec]:
    return [simulator(name) for name in NAMES]


def ports_of(spec: SimulatorSpec, base_port: int) -> dict[str, int]:
    """The simulator's ports under ``make run`` with this base port."""
    return {flag: base_port + offset for flag, offset in spec.ports.items()}
