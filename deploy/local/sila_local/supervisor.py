"""``make run``: the whole of Sila on one machine, in the foreground.

Starts the embedded PostgreSQL (data in ``var/postgres``, one database per service, unless
every ``SILA_<SERVICE>_DATABASE_URL`` names one), the embedded broker (unless
``SILA_KAFKA_BOOTSTRAP`` names a cluster), the third parties' simulators and the message
viewer, migrates every service's database, loads the dev demo data once, starts the five
services (API, relay and consumers in one process each) and the gateway on :8000, restarts
what dies, and on Ctrl-C stops everything, leaving no process behind. Ports move with
``SILA_LOCAL_BASE_PORT`` and ``SILA_LOCAL_BROKER_PORT`` (``sila_local.services``).
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
from sila_local.postgres import EmbeddedPostgres
from sila_local.processes import Child, python_command, wait_for_port
from sila_local.services import SERVICES, base_port, broker_port, ports
from sila_simulators.registry import ports_of, simulators

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
        self.base = base_port()
        self.ports = ports(self.base)
        # The children that serve a port, and the port each one serves.
        self.listening: list[tuple[Child, int]] = []

    def _default(self, name: str, value: str) -> None:
        """Set a child's variable unless the developer's environment already sets it."""
        if name not in os.environ:
            self.env[name] = value

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
        await self._start_postgres()
        await self._start_broker()
        await self._start_simulators()
        url = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        self._default("SILA_JWKS_URL", f"{url['identity']}/.well-known/jwks.json")
        self._default("SILA_TICKETS_IDENTITY_URL", url["identity"])
        self._default("SILA_NOTIFY_IDENTITY_URL", url["identity"])
        self._default("SILA_NOTIFY_PUBLIC_BASE_URL", url["notify"])
        self._default("SILA_NOTIFY_TMF_PUBLIC_BASE_URL", url["gateway"])
        self._default("SILA_TICKETS_PUBLIC_BASE_URL", url["gateway"])
        self._default(
            "SILA_TICKETS_PORTAL_SURVEY_URL",
            f"{url['gateway']}/espace-client/reclamations/{{ticket_id}}/avis",
        )
        # The payment providers send the browser back through the gateway, on this base port.
        self._default("SILA_BILLING_PUBLIC_BASE_URL", url["gateway"])
        self._default(
            "SILA_BILLING_PORTAL_PAYMENT_URL",
            f"{url['gateway']}/espace-client/paiements/{{payment_id}}",
        )
        for service in SERVICES:
            self._default(f"SILA_GATEWAY_{service.name.upper()}_URL", url[service.name])

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
            port = self.ports[service.name]
            await self._launch(
                Child(
                    name=service.name,
                    command=python_command("-m", service.module, "serve", "--port", str(port)),
                    env=self.env,
                    log_path=LOGS / f"{service.name}.log",
                ),
                port,
            )
        await self._launch(
            Child(
                name="gateway",
                command=python_command("-m", "sila_gateway", "--port", str(self.ports["gateway"])),
                env=self.env,
                log_path=LOGS / "gateway.log",
            ),
            self.ports["gateway"],
        )
        for child, port in self.listening:
            await wait_for_port("127.0.0.1", port, 60, child)

    async def _start_postgres(self) -> None:
        """The embedded PostgreSQL, unless every service's database URL is configured."""
        missing = [s for s in SERVICES if f"SILA_{s.name.upper()}_DATABASE_URL" not in os.environ]
        if not missing:
            console.print("[green]✓[/green] using the configured PostgreSQL databases")
            return
        postgres = EmbeddedPostgres(VAR / "postgres", self.ports["postgres"], LOGS / "postgres.log")
        await postgres.initialise()
        child = postgres.server_child()
        postgres.child = child
        self.children.append(child)
        await child.start()
        await postgres.wait_ready()
        await postgres.ensure_databases([f"sila_{s.name}" for s in missing])
        for service in missing:
            self.env[f"SILA_{service.name.upper()}_DATABASE_URL"] = postgres.url(
                f"sila_{service.name}"
            )
        console.print(
            f"[green]✓[/green] PostgreSQL (embedded, data in {VAR / 'postgres'})"
            f" on 127.0.0.1:{postgres.port}"
        )

    async def _start_broker(self) -> None:
        bootstrap = os.environ.get("SILA_KAFKA_BOOTSTRAP")
        if not bootstrap:
            port = broker_port()
            broker = broker_child(port, LOGS / "broker.log")
            await self._launch(broker)
            await wait_for_port("127.0.0.1", port, 20, broker)
            bootstrap = f"127.0.0.1:{port}"
            console.print(f"[green]✓[/green] broker (Tansu, memory only) on {bootstrap}")
        else:
            console.print(f"[green]✓[/green] using the Kafka cluster at {bootstrap}")
        self.env["SILA_KAFKA_BOOTSTRAP"] = bootstrap

    async def _start_simulators(self) -> None:
        """The third parties' stand-ins, each in its own process, and the message viewer."""
        sources: dict[str, str] = {}
        for spec in simulators():
            chosen = ports_of(spec, self.base)
            flags = [part for flag, port in chosen.items() for part in (f"--{flag}", str(port))]
            await self._launch(
                Child(
                    name=spec.name,
                    command=python_command("-m", "sila_simulators", spec.name, *flags),
                    env=self.env,
                    log_path=LOGS / f"simulator.{spec.name}.log",
                ),
                chosen["port"],
            )
            for name, value in spec.service_env(chosen).items():
                self._default(name, value)
            if spec.inbox:
                sources[spec.name] = f"http://127.0.0.1:{chosen['port']}"
        viewer = self.ports["viewer"]
        source_flags = [part for item in sources.items() for part in ("--source", "=".join(item))]
        await self._launch(
            Child(
                name="viewer",
                command=python_command(
                    "-m", "sila_simulators", "viewer", "--port", str(viewer), *source_flags
                ),
                env=self.env,
                log_path=LOGS / "simulator.viewer.log",
            ),
            viewer,
        )
        self._default("SILA_GATEWAY_MESSAGES_URL", f"http://127.0.0.1:{viewer}")
        for child, port in self.listening:
            await wait_for_port("127.0.0.1", port, 30, child)
        names = ", ".join(
            f"{spec.name} " + " ".join(f":{p}" for p in sorted(ports_of(spec, self.base).values()))
            for spec in simulators()
        )
        console.print(f"[green]✓[/green] simulators ({names}), message viewer :{viewer}")

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

    async def _launch(self, child: Child, port: int | None = None) -> None:
        await child.start()
        self.children.append(child)
        if port is not None:
            self.listening.append((child, port))

    async def _announce(self) -> None:
        deadline = time.monotonic() + 60
        gateway = f"http://127.0.0.1:{self.ports['gateway']}"
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline and not self.stopping.is_set():
                try:
                    answer = await client.get(f"{gateway}/health/ready")
                    if answer.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.25)
        console.print(
            f"[bold green]Sila is up[/bold green] on {gateway}"
            f"  (docs: /identity/docs, /tickets/docs, ...; messages received: /dev/messages;"
            f" logs in {LOGS}/; Ctrl-C stops)"
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
        # Services first (they drain their relays and consumers), the infrastructure last.
        infrastructure = {"broker", "postgres"}
        await asyncio.gather(*(c.stop() for c in self.children if c.name not in infrastructure))
        await asyncio.gather(*(c.stop() for c in self.children if c.name in infrastructure))
        console.print("[green]Stopped.[/green]")


def main() -> None:
    raise SystemExit(asyncio.run(Supervisor().run()))


if __name__ == "__main__":
    main()
