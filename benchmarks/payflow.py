"""The payments load generator, in its own process: ``python -m benchmarks.payflow CONFIG``.

A payment end to end is a chain wrk cannot drive (each step needs an id from the answer
before): ``POST /v1/payments`` (billing registers the order at SATIM), the customer's
browser on SATIM's page (``/_sim/pay``, the card typed), the browser sent back to billing's
return URL (billing confirms with ``acknowledgeTransaction.do``, credits the line and records
its events in one transaction: the 303 is sent once credited). ``clients`` closed-loop
clients run chains for ``seconds``; each client recharges its own lines in turn.

``mode`` ``bare``: one ``POST /v1/payments`` per chain, to the bare anchor (one row).
CONFIG is JSON: mode, billing, satim, token, lines [[subscription_id, customer_id]...],
clients, seconds. Prints ``PAYFLOW_JSON {...}``: chains, seconds, p50_ms, p99_ms, errors.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

CARD = {"pan": "6280581100000001", "expiry": "1230", "cvv2": "123"}


async def sila_chain(
    billing: httpx.AsyncClient, satim: httpx.AsyncClient, line: list[str], auth: dict[str, str]
) -> None:
    created = await billing.post(
        "/v1/payments",
        headers=auth,
        json={
            "purpose": "recharge",
            "method": "edahabia",
            "subscription_id": line[0],
            "customer_id": line[1],
        },
    )
    if created.status_code != 201:
        raise RuntimeError(f"initiate {created.status_code}: {created.text[:200]}")
    order_id = parse_qs(urlsplit(created.json()["redirect_url"]).query)["mdOrder"][0]
    paid = await satim.post("/_sim/pay", json={"orderId": order_id, **CARD})
    redirect = urlsplit(paid.json()["redirect"])
    back = await billing.get(f"{redirect.path}?{redirect.query}")
    if back.status_code != 303:  # credited or not: the bench counts succeeded rows after
        raise RuntimeError(f"return {back.status_code}")


async def bare_chain(billing: httpx.AsyncClient, line: list[str]) -> None:
    answer = await billing.post(
        "/v1/payments",
        json={
            "purpose": "recharge",
            "method": "edahabia",
            "subscription_id": line[0],
            "customer_id": line[1],
        },
    )
    if answer.status_code != 201:
        raise RuntimeError(f"bare {answer.status_code}")


async def main(config: dict[str, Any]) -> dict[str, Any]:
    clients = int(config["clients"])
    lines: list[list[str]] = config["lines"]
    auth = {"Authorization": f"Bearer {config.get('token', '')}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    latencies: list[float] = []
    errors: list[str] = []
    async with (
        httpx.AsyncClient(base_url=config["billing"], limits=limits, timeout=30) as billing,
        httpx.AsyncClient(base_url=config.get("satim", ""), limits=limits, timeout=30) as satim,
    ):
        deadline = time.monotonic() + float(config["seconds"])

        async def client(n: int) -> None:
            mine = lines[n::clients]
            turn = 0
            while time.monotonic() < deadline:
                line = mine[turn % len(mine)]
                turn += 1
                started = time.monotonic()
                try:
                    if config["mode"] == "sila":
                        await sila_chain(billing, satim, line, auth)
                    else:
                        await bare_chain(billing, line)
                except (RuntimeError, httpx.HTTPError, KeyError) as exc:
                    errors.append(str(exc))
                    continue
                latencies.append(time.monotonic() - started)

        began = time.monotonic()
        await asyncio.gather(*(client(n) for n in range(clients)))
        elapsed = time.monotonic() - began
    ordered = sorted(latencies) or [float("nan")]
    return {
        "chains": len(latencies),
        "seconds": elapsed,
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "errors": len(errors),
        "first_errors": errors[:3],
    }


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        result = asyncio.run(main(json.load(handle)))
    print("PAYFLOW_JSON " + json.dumps(result), flush=True)
