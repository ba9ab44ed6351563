"""What every benchmark module gets: a fresh broker, fresh databases, and a table of rows.

A benchmark module ``benchmarks/<topic>.py`` exposes ``async def run(env: BenchEnv) -> list[Row]``.
"""

from __future__ import annotations

import os
import statistics
import uuid
from dataclasses import dataclass, field

import asyncpg

from sila_common.migrations import upgrade_async
from sila_common.settings import PlatformSettings, Profile
from sila_local.services import SERVICES

PG_ADMIN_DSN = os.environ.get("SILA_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Row:
    """One figure; with ``anchor`` (the bare anchor's figure measured in the same run) it is
    also a row of the fast-paths table, printed with the ratio ``value / anchor``."""

    name: str
    value: float
    unit: str
    note: str = ""
    anchor: float | None = None
    goal: str = ""

    @property
    def ratio(self) -> float | None:
        if self.anchor is None or not self.anchor:
            return None
        return self.value / self.anchor


@dataclass
class BenchEnv:
    platform: PlatformSettings
    quick: bool = os.environ.get("SILA_BENCH_QUICK", "") == "1"
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    created: list[str] = field(default_factory=list)

    async def database(self, service: str) -> str:
        """A fresh PostgreSQL database for ``service``, migrated to head; dropped at the end."""
        name = f"sila_bench_{self.run_id}_{service}_{len(self.created)}"
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created.append(name)
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        definition = next(s for s in SERVICES if s.name == service).definition()
        await upgrade_async(definition.migrations_dir, url)
        return url

    async def cleanup(self) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            for name in self.created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def bench_platform(bootstrap: str) -> PlatformSettings:
    return PlatformSettings(profile=Profile.TEST, kafka_bootstrap=bootstrap, log_level="ERROR")


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile (0-100) by the nearest-rank method."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
