"""``make run``: the whole of Sila on one machine, in the foreground.

Starts the embedded broker (unless ``SILA_KAFKA_BOOTSTRAP`` names a cluster), migrates
every service's database, loads the dev demo data once, starts the five services (API,
relay and consumers in one process each) and the gateway on :8000, restarts what dies,
and on Ctrl-C stops everything, leaving no process behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
from rich.console import Console

from sila_local.broker import broker_child
from sila_local.processes import Child, python_command, wait_for_port
from sila_local.services import PORTS, SERVICES

console = Console()
VAR = Path("var")
LOGS = VAR / "log"
DEMO_MARKER = VAR / "demo-data-loaded"
RESTART_BACKOFF_SECONDS = 2.0


class Supervisor:
    def __init__(self) -> None:
        self.children: list[Child] = []
        self.env: dict[str, str] = {"SILA_PROFILE": os.environ.get("SILA_PROFILE", "dev")}
        self.stopping = asyncio.Event()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        VAR.mkdir(exist_ok=True)
        try:
            await self._start_all()
            if self.stopping.is_set():
                return 0
            await self._announce()
            await self._watch()
        except Exception as exc:
            console.print(f"[red]Sila could not start:[/red] {exc}")
            console.print(f"Logs are in {LOGS}/.")
            return 1
        finally:
            await self._stop_all()
        return 0

    async def _start_all(self) -> None:
        bootstrap = os.environ.get("SILA_KAFKA_BOOTSTRAP")
        if not bootstrap:
            port = 9092
            broker = broker_child(port, LOGS / "broker.log")
            await self._launch(broker)
            await wait_for_port("127.0.0.1", port, 20, broker)
            bootstrap = f"127.0.0.1:{port}"
            console.print(f"[green]✓[/green] broker (Tansu, memory only) on {bootstrap}")
        else:
            console.print(f"[green]✓[/green] using the Kafka cluster at {bootstrap}")
        self.env["SILA_KAFKA_BOOTSTRAP"] = bootstrap
        self.env.setdefault(
            "SILA_JWKS_URL", f"http://127.0.0.1:{PORTS['identity']}/.well-known/jwks.json"
        )

        await asyncio.gather(
            *(self._once(f"{s.name} migrations", s.module, "migrate") for s in SERVICES)
        )
        console.print("[green]✓[/green] databases migrated")
        if self.env["SILA_PROFILE"] == "dev" and not DEMO_MARKER.exists():
            await self._once("demo data", "sila_identity", "demo-data")
            # The 2025 reform in what tickets owns (agencies, incidents, queues); idempotent.
            await self._once("tickets reform", "sila_tickets", "apply-reform")
            DEMO_MARKER.write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z"))
            console.print("[green]✓[/green] demo data loaded (agent admin / admin)")

        for service in SERVICES:
            await self._launch(
                Child(
                    name=service.name,
                    command=python_command(
                        "-m", service.module, "serve", "--port", str(service.port)
                    ),
                    env=self.env,
                    log_path=LOGS / f"{service.name}.log",
                )
            )
        await self._launch(
            Child(
                name="gateway",
                command=python_command("-m", "sila_gateway", "--port", str(PORTS["gateway"])),
                env=self.env,
                log_path=LOGS / "gateway.log",
            )
        )
        for child in self.children:
            if child.name != "broker":
                await wait_for_port("127.0.0.1", PORTS[child.name], 60, child)

    async def _once(self, label: str, module: str, role: str) -> None:
        child = Child(
            name=label,
            command=python_command("-m", module, role),
            env=self.env,
            log_path=LOGS / f"{module.removeprefix('sila_')}.{role}.log",
        )
        await child.start()
        assert child.process is not None
        code = await child.process.wait()
        if code != 0:
            raise RuntimeError(f"{label} failed (exit {code}); see {child.log_path}")

    async def _launch(self, child: Child) -> None:
        await child.start()
        self.children.append(child)

    async def _announce(self) -> None:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline and not self.stopping.is_set():
                try:
                    answer = await client.get(f"http://127.0.0.1:{PORTS['gateway']}/health/ready")
                    if answer.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.25)
        console.print(
            f"[bold green]Sila is up[/bold green] on http://127.0.0.1:{PORTS['gateway']}"
            f"  (docs: /identity/docs, /tickets/docs, ...; logs in {LOGS}/; Ctrl-C stops)"
        )

    async def _watch(self) -> None:
        while not self.stopping.is_set():
            for child in self.children:
                if not child.running and not self.stopping.is_set():
                    code = child.process.returncode if child.process else None
                    console.print(f"[yellow]{child.name} exited ({code}); restarting[/yellow]")
                    await asyncio.sleep(RESTART_BACKOFF_SECONDS)
                    await child.start()
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=0.5)
            except TimeoutError:
                pass

    async def _stop_all(self) -> None:
        console.print("Stopping Sila…")
        # Services first (they drain their relays and consumers), the broker last.
        services = [c for c in self.children if c.name != "broker"]
        await asyncio.gather(*(c.stop() for c in services))
        await asyncio.gather(*(c.stop() for c in self.children if c.name == "broker"))
        console.print("[green]Stopped.[/green]")


def main() -> None:
    raise SystemExit(asyncio.run(Supervisor().run()))


if __name__ == "__main__":
    main()
