"""`make run`'s engine (``python -m sila_local``) starts the whole system on the embedded
defaults (SQLite files, the Tansu broker), serves through the gateway, and stops cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from sila_local.processes import port_open
from sila_local.services import PORTS
from tests.support import eventually

GATEWAY = f"http://127.0.0.1:{PORTS['gateway']}"
ALL_PORTS = [*PORTS.values(), 9092]


async def test_make_run_serves_the_demo_and_stops_without_leaving_a_process(
    tmp_path: Path,
) -> None:
    busy = [port for port in ALL_PORTS if port_open("127.0.0.1", port)]
    assert not busy, f"ports {busy} are taken; stop whatever runs there (a `make run`?)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SILA_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sila_local",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        async with httpx.AsyncClient(base_url=GATEWAY, timeout=10) as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/health/ready")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(ready, timeout=120, interval=0.5, what="the gateway ready")
            assert (tmp_path / "var" / "identity.db").exists(), "SQLite is the default"

            login = await client.post(
                "/v1/oauth/token",
                data={"grant_type": "password", "username": "admin", "password": "admin"},
            )
            assert login.status_code == 200, login.text
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
            found = await client.get(
                "/v1/customers", params={"phone": "0550 12 34 56"}, headers=auth
            )
            assert found.status_code == 200, found.text
            assert [c["first_name"] for c in found.json()] == ["Karim"]
            document = await client.get("/tickets/openapi.json")
            assert document.status_code == 200
            assert "/v1/tickets" in document.json()["paths"]
            missing = await client.get("/v1/nowhere")
            assert missing.status_code == 404
            assert missing.headers["content-type"].startswith("application/problem+json")
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGINT)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, output.decode(errors="replace")[-3000:]

    async def all_closed() -> bool:
        return not any(port_open("127.0.0.1", port) for port in ALL_PORTS)

    await eventually(all_closed, timeout=10, what="every port released")
