"""`make run`'s engine (``python -m sila_local``) starts the whole system on the embedded
defaults (PostgreSQL from the wheel, the Tansu broker, the simulators), serves the customer
journey through the gateway (ask a code, log in, open a complaint, be told, pay a recharge on
the SATIM simulator's page), and stops cleanly.

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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from sila_local.processes import port_open
from sila_local.services import OFFSETS
from sila_simulators.registry import ports_of, simulator, simulators
from tests.support import bearer, eventually

KARIM = "0550 12 34 56"  # a demo customer
KARIM_LINE = "IDOOM_ADSL_10M"  # his prepaid ADSL line in the demo data
EDAHABIA_OK = "6280581100000001"  # the SATIM simulator pays this card (simulators/README.md)


def used_offsets() -> list[int]:
    extra = [offset for spec in simulators() for offset in spec.ports.values()]
    return sorted({*OFFSETS.values(), *extra})


# The test's broker sits in its base's range too (make run's offsets stop at 32).
BROKER_OFFSET = 92


def free_base_port() -> int:
    """A base port whose every offset is free (the ports make run would take)."""
    for _ in range(200):
        # Below the kernel's ephemeral range (32768-60999), where outgoing connections of
        # everything else on the machine would take the ports between this check and use.
        base = random.randrange(20_000, 32_000, 100)
        if not any(
            port_open("127.0.0.1", base + offset) for offset in [*used_offsets(), BROKER_OFFSET]
        ):
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


async def customer_journey(client: httpx.AsyncClient) -> dict[str, str]:
    """Ask a code, read it on the phone, log in, open a complaint, be told of it; answers
    the customer's headers."""
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
    return customer


async def payment_journey(client: httpx.AsyncClient, customer: dict[str, str], base: int) -> None:
    """The customer recharges their prepaid line with Edahabia: the payment registered at
    SATIM, the card typed on SATIM's page, the browser back through the gateway, the line
    extended and the customer told."""
    gateway = f"http://127.0.0.1:{base}"
    satim = f"http://127.0.0.1:{ports_of(simulator('satim'), base)['port']}"

    async def prepaid_line() -> dict[str, Any] | None:
        lines = await client.get("/v1/subscriptions", headers=customer)
        assert lines.status_code == 200, lines.text
        return next((line for line in lines.json() if line["offer_code"] == KARIM_LINE), None)

    # The demo contract reaches billing as identity.contract.signed.
    line = await eventually(prepaid_line, timeout=60, what="the demo line's subscription")
    assert line["billing"] == "prepaid"
    offers = (await client.get("/v1/offers")).json()
    price = next(offer for offer in offers if offer["code"] == KARIM_LINE)["price_centimes"]

    request = {"purpose": "recharge", "method": "edahabia", "subscription_id": line["id"]}
    key = {"Idempotency-Key": f"e2e-recharge-{random.randrange(10**9)}"}
    started = await client.post("/v1/payments", headers=customer | key, json=request)
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["status"] == "pending" and payment["amount_centimes"] == price
    assert payment["redirect_url"].startswith(f"{satim}/"), payment["redirect_url"]
    replayed = await client.post("/v1/payments", headers=customer | key, json=request)
    assert replayed.status_code == 201 and replayed.json()["id"] == payment["id"]

    # The browser: SATIM's page, the card typed in its form, sent back to Sila.
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(payment["redirect_url"])
        assert page.status_code == 200 and "Payer" in page.text, page.text
        order = parse_qs(urlsplit(payment["redirect_url"]).query)["mdOrder"][0]
        typed = await browser.post(
            f"{satim}/payment/rest/processform.do",
            data={"mdOrder": order, "pan": EDAHABIA_OK, "expiry": "1230", "cvv2": "123"},
        )
        assert typed.status_code == 303, typed.text
        back = typed.headers["location"]
        assert back.startswith(f"{gateway}/v1/payments/{payment['id']}/return?"), back
        returned = await browser.get(back)
        assert returned.status_code == 303, returned.text
        assert returned.headers["location"] == (
            f"{gateway}/espace-client/paiements/{payment['id']}"
        )

    async def settled() -> dict[str, Any] | None:
        read = await client.get(f"/v1/payments/{payment['id']}", headers=customer)
        assert read.status_code == 200, read.text
        return read.json() if read.json()["status"] != "pending" else None

    paid = await eventually(settled, timeout=30, what="the payment settled")
    assert paid["status"] == "succeeded", paid
    assert paid["masked_pan"] == "628058******0001"
    recharged = await prepaid_line()
    assert recharged is not None and recharged["state"] == "active", recharged
    assert recharged["ends_at"] is not None
    assert datetime.fromisoformat(recharged["ends_at"]) > datetime.now(UTC) + timedelta(days=29)

    async def told() -> list[dict[str, Any]]:
        inbox = await client.get("/v1/inbox", headers=customer)
        assert inbox.status_code == 200, inbox.text
        return [
            i for i in inbox.json()["items"] if i["event_type"] == "billing.subscription.recharged"
        ]

    await eventually(told, timeout=30, what="the customer told of the recharge")


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
    base = free_base_port()
    broker = base + BROKER_OFFSET
    all_ports = [base + offset for offset in used_offsets()] + [broker]
    process = await start_make_run(tmp_path, base, broker)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{base}", timeout=10) as client:

            async def ready() -> bool:
                if process.returncode is not None:
                    said = await process.stdout.read() if process.stdout else b""
                    raise AssertionError(
                        f"make run exited ({process.returncode}):\n"
                        + said.decode(errors="replace")[-4000:]
                    )
                try:
                    return (await client.get("/health/ready")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(ready, timeout=120, interval=0.5, what="the gateway ready")
            assert (tmp_path / "var" / "postgres" / "PG_VERSION").exists(), "embedded PostgreSQL"
            for spec in simulators():
                assert port_open("127.0.0.1", ports_of(spec, base)["port"]), spec.name

            await counter_journey(client)
            customer = await customer_journey(client)
            await payment_journey(client, customer, base)

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
