"""``make bench``: start a broker, run every benchmark module, print one table.

python -m benchmarks                 # everything
python -m benchmarks platform        # one module
SILA_BENCH_QUICK=1 python -m benchmarks   # small sizes, for a smoke run
"""

from __future__ import annotations

import asyncio
import importlib
import platform as host
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.harness import BenchEnv, Row, bench_platform
from sila_common.logging import configure_logging
from sila_local.broker import start_broker
from sila_local.processes import free_port

MODULES = ["fastpaths", "platform", "identity", "tickets", "notify", "billing", "loyalty"]


async def main(selected: list[str]) -> None:
    configure_logging(service="bench", level="ERROR")
    console = Console(width=170)
    port = free_port()
    broker = await start_broker(port)
    env = BenchEnv(platform=bench_platform(f"127.0.0.1:{port}"))
    table = Table(
        title=f"Sila benchmarks — {host.node()}, {host.processor() or host.machine()}, "
        f"Python {host.python_version()}{' (quick)' if env.quick else ''}"
    )
    for column in ("module", "figure", "value", "unit", "conditions"):
        table.add_column(column)
    anchored = Table(
        title="Fast paths against their bare anchors (same run; ratio = Sila / anchor)"
    )
    for column in ("figure", "Sila", "bare anchor", "ratio", "unit", "goal"):
        anchored.add_column(column)
    try:
        for name in selected or MODULES:
            if not (Path(__file__).parent / f"{name}.py").exists():
                continue
            module = importlib.import_module(f"benchmarks.{name}")
            console.print(f"running {name}…")
            rows: list[Row] = await module.run(env)
            for row in rows:
                table.add_row(name, row.name, f"{row.value:,.2f}", row.unit, row.note)
                if row.anchor is not None or row.goal:
                    anchored.add_row(
                        row.name,
                        f"{row.value:,.2f}",
                        "—" if row.anchor is None else f"{row.anchor:,.2f}",
                        "—" if row.ratio is None else f"{row.ratio:.2f}",
                        row.unit,
                        row.goal,
                    )
    finally:
        await env.cleanup()
        await broker.stop()
    console.print(table)
    if anchored.row_count:
        console.print(anchored)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
