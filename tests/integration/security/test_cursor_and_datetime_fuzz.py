"""Property-based fuzz of every cursor and datetime parameter: a 422 problem, never a 500.

Cursors are base64 of any JSON value (strings that are not dates, huge and negative
integers, booleans, nulls, nested lists, wrong lengths) or not base64 at all; datetimes
span year 1 to 9999 with offsets up to ±23:59, as text, numbers and garbage. Each list and
each datetime field is called with them over real HTTP by an admin.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.integration.security.conftest import Stack, busy_neighbours, in_a_fuzzer_process

CUSTOMER = "00000000-0000-4000-8000-000000000001"
# (service, path) of every keyset-paged list.
CURSOR_LISTS = [
    ("identity", f"/v1/customers/{CUSTOMER}/timeline"),
    ("identity", f"/v1/customers/{CUSTOMER}/interactions"),
    ("identity", "/v1/admin/identity/audit"),
    ("tickets", "/v1/tickets"),
    ("notify", f"/v1/notifications?customer_id={CUSTOMER}"),
    ("notify", f"/v1/inbox?customer_id={CUSTOMER}"),
    ("notify", "/v1/webhook-subscriptions/00000000-0000-4000-8000-000000000002/deliveries"),
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)


def as_cursor(value: Any) -> str:
    raw = json.dumps(value, allow_nan=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


cursors = st.one_of(
    st.lists(json_values, min_size=0, max_size=3).map(as_cursor),
    json_values.map(as_cursor),
    st.text(max_size=30),
)

offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
instants = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
    ).map(lambda moment: moment.isoformat()),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-23:59",
            "0",
            "-1",
            "1e300",
            "true",
            "2026-02-30T00:00:00Z",
            "",
        ]
    ),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def check(answer: httpx.Response, what: str) -> None:
    assert answer.status_code < 500, f"{what} -> {answer.status_code} {answer.text[:300]}"
    if answer.status_code == 422:
        assert answer.headers["content-type"].startswith("application/problem+json"), what


def fuzz(urls: dict[str, str], admin_token: str) -> None:
    """Both properties, over real HTTP (run in a process of its own: conftest)."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    clients = {name: httpx.Client(base_url=url, headers=headers) for name, url in urls.items()}

    @SETTINGS
    @given(cursor=cursors)
    @example(cursor=as_cursor(["not a date", "x"]))
    @example(cursor=as_cursor([10**40]))
    @example(cursor=as_cursor([True]))
    @example(cursor=as_cursor(["0001-01-01T00:00:00+14:00", "x"]))
    @example(cursor=as_cursor(["9999-12-31T23:59:59-23:59", 5]))
    def every_list(cursor: str) -> None:
        for service, path in CURSOR_LISTS:
            answer = clients[service].get(path, params={"cursor": cursor})
            check(answer, f"{service} {path} cursor={cursor!r}")

    @SETTINGS
    @given(moment=instants)
    def every_datetime(moment: str) -> None:
        identity, tickets, notify = clients["identity"], clients["tickets"], clients["notify"]
        for name in ("since", "until"):
            check(
                identity.get(f"/v1/customers/{CUSTOMER}/timeline", params={name: moment}),
                f"timeline {name}={moment}",
            )
        check(
            identity.post(
                f"/v1/customers/{CUSTOMER}/interactions",
                json={
                    "channel": "call_centre",
                    "direction": "inbound",
                    "reason": "technical",
                    "outcome": "resolved",
                    "duration_seconds": 60,
                    "occurred_at": moment,
                },
            ),
            f"interaction occurred_at={moment}",
        )
        check(
            tickets.get(
                "/v1/tickets/admin/sla-policies/preview",
                params={"category": "technical", "opened_at": moment},
            ),
            f"SLA preview opened_at={moment}",
        )
        for field in ("day", "to_day"):
            body = {"action": "move", "day": "2026-03-20", "to_day": "2026-03-21"}
            body[field] = moment[:10]
            check(
                tickets.post(
                    "/v1/tickets/admin/calendar/overrides",
                    json={**body, "name": "Aïd", "reason": "fuzz test"},
                ),
                f"calendar override {field}={moment}",
            )
        check(
            tickets.post(
                "/v1/incidents",
                json={
                    "service": "adsl",
                    "area": {"kind": "wilaya", "value": "16"},
                    "estimated_end_at": moment,
                },
            ),
            f"incident estimated_end_at={moment}",
        )
        check(
            tickets.get("/v1/reports/tickets", params={"from": moment, "to": moment}),
            f"report from={moment}",
        )
        check(
            notify.post(
                "/v1/templates/preview",
                json={
                    "body": "Le {d}",
                    "variables": {"d": "datetime"},
                    "language": "fr",
                    "channel": "sms",
                    "values": {"d": moment},
                },
            ),
            f"template preview d={moment}",
        )

    try:
        every_list()
        every_datetime()
    finally:
        for client in clients.values():
            client.close()


async def test_no_cursor_or_datetime_is_a_server_error(stack: Stack) -> None:
    assert datetime.now(UTC).year < 2200
    async with busy_neighbours():
        await in_a_fuzzer_process(fuzz, stack.urls, stack.admin_token)
