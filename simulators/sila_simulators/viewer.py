"""The developer's message viewer: what every simulated phone, device and mailbox received.

It reads the ``/_sim/inbox`` of each simulator given as a source and shows them together,
newest first, so that a developer can read the one-time code of a login:

- ``GET /dev/messages``: the page (``?to=0550123456`` or ``?to=karim@example.dz``,
  ``?channel=sms|push|email``), refreshing itself;
- ``GET /dev/messages/api/v1/messages``: the same as JSON, in the shape of Mailpit's
  API (``{"total", "count", "messages": [...], "sources": {...}}``).

``make run`` starts it on base port + 10 and the gateway serves it at ``/dev/messages`` in the
dev profile. Run it alone with
``python -m sila_simulators viewer --port 8010 --source smsc=http://127.0.0.1:8013``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sila_simulators.support import run

PREFIX = "/dev/messages"
# An Algerian number is known by its last nine digits (0550 12 34 56, +213 550 12 34 56).
NATIONAL_DIGITS = 9
DEFAULT_LIMIT = 100


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def addressed_to(entry_to: str, wanted: str) -> bool:
    """Whether an entry was sent to ``wanted``: a mailbox (any case) or a phone number
    (in any of its spellings), or else a device token as given."""
    wanted = wanted.strip()
    if "@" in wanted:
        return entry_to.lower() == wanted.lower()
    digits = _digits(wanted)
    if len(digits) >= NATIONAL_DIGITS and _digits(entry_to):
        return _digits(entry_to)[-NATIONAL_DIGITS:] == digits[-NATIONAL_DIGITS:]
    return entry_to == wanted


async def _read_source(
    client: httpx.AsyncClient, name: str, url: str
) -> tuple[str, str, list[dict[str, Any]]]:
    try:
        answer = await client.get(f"{url}/_sim/inbox")
        answer.raise_for_status()
    except httpx.HTTPError as error:
        return name, f"unreachable: {type(error).__name__}", []
    entries: list[dict[str, Any]] = answer.json()
    return name, "ok", [{**entry, "source": name} for entry in entries]


async def collect(
    client: httpx.AsyncClient, sources: Mapping[str, str], query: Mapping[str, str]
) -> dict[str, Any]:
    """Every source's entries matching the query, newest first."""
    results = await asyncio.gather(
        *(_read_source(client, name, url) for name, url in sources.items())
    )
    entries = [entry for _, _, found in results for entry in found]
    if wanted := query.get("to"):
        entries = [e for e in entries if addressed_to(str(e["to"]), wanted)]
    if channel := query.get("channel"):
        entries = [e for e in entries if e["channel"] == channel]
    entries.sort(key=lambda e: str(e["received_at"]), reverse=True)
    try:
        limit = max(1, int(query.get("limit", DEFAULT_LIMIT)))
    except ValueError:
        limit = DEFAULT_LIMIT
    return {
        "total": len(entries),
        "count": min(limit, len(entries)),
        "messages": entries[:limit],
        "sources": {name: status for name, status, _ in results},
    }


def render_page(found: Mapping[str, Any], query: Mapping[str, str]) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(str(m['received_at'])[:19].replace('T', ' '))}</td>"
        f"<td>{html.escape(m['channel'])}</td>"
        f"<td>{html.escape(str(m['to']))}</td>"
        f"<td>{html.escape(str(m['from']))}</td>"
        f"<td><b>{html.escape(m['subject'] or '')}</b> {html.escape(m['text'])}</td>"
        f"<td>{html.escape(m['status'] or '')}</td>"
        "</tr>"
        for m in found["messages"]
    )
    sources = ", ".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in found["sources"].items())
    to = html.escape(query.get("to", ""), quote=True)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">
<title>Sila: messages received</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .4rem; text-align: start;
  vertical-align: top; unicode-bidi: plaintext; }}
</style></head>
<body>
<h1>Messages received by the simulated phones, devices and mailboxes</h1>
<form method="get"><input name="to" value="{to}" placeholder="0550123456 or name@example.dz">
<select name="channel"><option value="">every channel</option><option>sms</option>
<option>push</option><option>email</option></select> <button>Show</button></form>
<p>{found["total"]} message(s). Sources: {sources}.
JSON: <a href="{PREFIX}/api/v1/messages">{PREFIX}/api/v1/messages</a></p>
<table><tr><th>received</th><th>channel</th><th>to</th><th>from</th><th>message</th>
<th>status</th></tr>{rows}</table>
</body></html>"""


def create_viewer_app(sources: Mapping[str, str]) -> Starlette:
    """``sources`` maps a simulator's name to its HTTP base URL."""
    holder: dict[str, httpx.AsyncClient] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=5.0) as client:
            holder["client"] = client
            yield

    async def api(request: Request) -> Response:
        return JSONResponse(await collect(holder["client"], sources, request.query_params))

    async def page(request: Request) -> Response:
        found = await collect(holder["client"], sources, request.query_params)
        return HTMLResponse(render_page(found, request.query_params))

    return Starlette(
        routes=[
            Route(PREFIX, page, methods=["GET"]),
            Route(f"{PREFIX}/api/v1/messages", api, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Sila's developer message viewer")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument(
        "--source", action="append", default=[], help="name=http://host:port (repeatable)"
    )
    args = parser.parse_args(argv)
    sources = dict(item.split("=", 1) for item in args.source)
    run(create_viewer_app(sources), args.host, args.port)
