"""`make run`'s engine (``python -m sila_local``) starts the whole system on the embedded
defaults (PostgreSQL from the wheel, the Tansu broker, the simulators), serves the customer
journey through the gateway, and stops cleanly.

It runs on ports of its own (``SILA_LOCAL_BASE_PORT``, ``SILA_LOCAL_BROKER_PORT``), so the
suite passes while a developer's ``make run`` holds 8000-8032 and 9092.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import re
import signal
import sys
from pathlib import Path
from typing import Any

import httpx

from sila_local.processes import free_port, port_open
from sila_local.services import OFFSETS
from sila_simulators.registry import ports_of, simulators
from tests.support import bearer, eventually

KARIM = "0550 12 34 56"  # a demo customer


def used_offsets() -> list[int]:
    extra = [offset for spec in simulators() for offset in spec.ports.values()]
    return sorted({*OFFSETS.values(), *extra})


def free_base_port() -> int:
    """A base port whose every offset is free (the ports make run would take)."""
    for _ in range(200):
        base = random.randrange(20_000, 60_000, 100)
        if not any(port_open("127.0.0.1", base + offset) for offset in used_offsets()):
            return base
    raise AssertionError("no free range of ports for make run")


async def start_make_run(cwd: Path, base: int, broker: int) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SILA_")}
    env |= {"SILA_LOCAL_BASE_PORT": str(base), "SILA_LOCAL_BROKER_PORT": str(broker)}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sila_local",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )


async def sms_code(client: httpx.AsyncClient, phone: str) -> str | None:
    """The newest one-time code the simulated phone received, read from the message viewer."""
    answer = await client.get(
        "/dev/messages/api/v1/messages", params={"to": phone, "channel": "sms"}
    )
    assert answer.status_code == 200, answer.text
    for message in answer.json()["messages"]:
        if found := re.search(r"\b(\d{6})\b", message["text"]):
            return found.group(1)
    return None


async def customer_journey(client: httpx.AsyncClient) -> None:
    """Ask a code, read it on the phone, log in, open a complaint, be told of it."""
    asked = await client.post("/v1/auth/otp", json={"phone": KARIM})
    assert asked.status_code == 202, asked.text
    code = await eventually(lambda: sms_code(client, KARIM), timeout=30, what="the SMS code")
    page = await client.get("/dev/messages", params={"to": KARIM})
    assert page.status_code == 200 and code in page.text

    login = await client.post(
        "/v1/oauth/token",
        data={
            "grant_type": "urn:sila:params:oauth:grant-type:otp",
            "phone": KARIM,
            "code": code,
        },
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    customer, customer_id = bearer(token), claims_of(token)["customer_id"]

    opened = await client.post(
        "/v1/tickets",
        headers=customer,
        json={
            "customer_id": customer_id,
            "category": "technical",
            "subcategory": "no_connection",
            "channel": "web",
            "subject": "Pas de connexion ADSL depuis hier",
        },
    )
    assert opened.status_code == 201, opened.text
    number = opened.json()["number"]

    async def told() -> list[dict[str, Any]]:
        inbox = await client.get("/v1/inbox", headers=customer)
        assert inbox.status_code == 200, inbox.text
        return [item for item in inbox.json()["items"] if number in item["body"]]

    [notice] = await eventually(told, timeout=30, what="the customer told of the complaint")
    assert notice["event_type"] == "tickets.ticket.opened"


def claims_of(token: str) -> dict[str, Any]:
    """What the app reads from its own access token (the customer's id)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


async def counter_journey(client: httpx.AsyncClient) -> None:
    """An agent registers a customer and opens a ticket for them in the same instant."""
    login = await client.post(
        "/v1/oauth/token",
        data={"grant_type": "password", "username": "admin", "password": "admin"},
    )
    assert login.status_code == 200, login.text
    agent = bearer(login.json()["access_token"])
    found = await client.get("/v1/customers", params={"phone": KARIM}, headers=agent)
    assert [c["first_name"] for c in found.json()] == ["Karim"]
    created = await client.post(
        "/v1/customers",
        headers=agent,
        json={
            "first_name": "Samir",
            "last_name": "Bouzid",
            "phone": f"+2136{random.randrange(10**7, 10**8)}",
            "wilaya_code": "16",
            "language": "fr",
            "channel": "agency",
        },
    )
    assert created.status_code == 201, created.text
    opened = await client.post(
        "/v1/tickets",
        headers=agent,
        json={
            "customer_id": created.json()["id"],
            "category": "commercial",
            "channel": "agency",
            "subject": "Changement d'offre",
        },
    )
    assert opened.status_code == 201, opened.text


async def test_make_run_serves_the_customer_journey_and_stops_without_leaving_a_process(
    tmp_path: Path,
) -> None:
    base, broker = free_base_port(), free_port()
    all_ports = [base + offset for offset in used_offsets()] + [broker]
    process = await start_make_run(tmp_path, base, broker)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{base}", timeout=10) as client:

            async def ready() -> bool:
                assert process.returncode is None, "make run exited"
                try:
                    return (await client.get("/health/ready")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(ready, timeout=120, interval=0.5, what="the gateway ready")
            assert (tmp_path / "var" / "postgres" / "PG_VERSION").exists(), "embedded PostgreSQL"
            for spec in simulators():
                assert port_open("127.0.0.1", ports_of(spec, base)["port"]), spec.name

            await counter_journey(client)
            await customer_journey(client)

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
        return not any(port_open("127.0.0.1", port) for port in all_ports)

    await eventually(all_closed, timeout=10, what="every port released")
