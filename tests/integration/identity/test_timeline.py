"""Interactions and the timeline against PostgreSQL and the broker."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select

from sila_common.db import make_engine
from sila_common.events import REGISTRY
from sila_identity.api.timeline import TimelinePage
from sila_identity.flows.timeline import PAGE_AUDITED
from sila_identity.queries import fetch_on_pool
from sila_identity.tables import audit_log, timeline_entries
from sila_identity.timeline.projection import project
from tests.integration.identity.conftest import Cast, customer_token, events_of, register
from tests.support import (
    FastApiSolving,
    LiveService,
    bearer,
    drop_the_pools_connection,
    eventually,
    problem_of,
    without_correlation,
)


async def timeline(
    identity: LiveService, token: str, customer_id: str, **params: Any
) -> dict[str, Any]:
    answer = await identity.client.get(
        f"/v1/customers/{customer_id}/timeline", headers=bearer(token), params=params
    )
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = answer.json()
    return page


async def test_a_logged_call_is_an_event_and_a_timeline_entry_in_the_readers_language(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15)
    logged = await identity.client.post(
        f"/v1/customers/{customer['id']}/interactions",
        headers=bearer(cast.agent_15),
        json={
            "channel": "call_centre",
            "direction": "inbound",
            "reason": "technical",
            "outcome": "information_given",
            "duration_seconds": 185,
            "notes": "Client signale des coupures le soir",
        },
    )
    assert logged.status_code == 201, logged.text
    interaction = logged.json()
    [event] = await events_of(identity, customer["id"], "identity.interaction.logged")
    assert event["data"]["duration_seconds"] == 185
    assert event["data"]["agent_id"] == cast.agent_15_id
    assert "notes" not in event["data"], "agents' notes stay internal"

    async def entry() -> dict[str, Any] | None:
        items = (await timeline(identity, cast.agent_15, customer["id"], lang="en"))["items"]
        return items[0] if items and items[0]["type"] == "identity.interaction.logged" else None

    newest = await eventually(entry, what="the call on the timeline")
    assert newest["summary"] == (
        "Contact call centre 12 (inbound): technical issue, information given"
    )
    assert newest["resource"] == (
        f"/v1/customers/{customer['id']}/interactions/{interaction['id']}"
    )
    arabic = (await timeline(identity, cast.agent_15, customer["id"], lang="ar"))["items"][0]
    assert "مركز النداء 12" in arabic["summary"]
    french = await identity.client.get(
        f"/v1/customers/{customer['id']}/timeline",
        headers=bearer(cast.agent_15) | {"Accept-Language": "fr-DZ,fr;q=0.9"},
    )
    assert french.json()["items"][0]["summary"].startswith("Contact centre d'appels 12")
    # The page, rendered without the models, is what the documented response model says.
    page = TimelinePage.model_validate_json(french.content)
    assert page.model_dump(mode="json") == french.json()


async def test_an_impossible_contact_is_refused_with_the_field_at_fault(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15)
    url = f"/v1/customers/{customer['id']}/interactions"
    inbound_callback = await identity.client.post(
        url,
        headers=bearer(cast.agent_15),
        json={
            "channel": "callback",
            "direction": "inbound",
            "reason": "satisfaction_check",
            "outcome": "resolved",
            "duration_seconds": 60,
        },
    )
    assert problem_of(inbound_callback)["errors"][0]["field"] == "body.direction"
    call_without_duration = await identity.client.post(
        url,
        headers=bearer(cast.agent_15),
        json={
            "channel": "call_centre",
            "direction": "inbound",
            "reason": "information",
            "outcome": "resolved",
        },
    )
    assert problem_of(call_without_duration)["errors"][0]["field"] == "body.duration_seconds"


async def test_interactions_page_newest_first(identity: LiveService, cast: Cast) -> None:
    customer = await register(identity, cast.agent_15)
    start = datetime.now(UTC) - timedelta(hours=3)
    for minutes in (10, 30, 20):
        answer = await identity.client.post(
            f"/v1/customers/{customer['id']}/interactions",
            headers=bearer(cast.agent_15),
            json={
                "channel": "agency",
                "direction": "inbound",
                "reason": "commercial",
                "outcome": "resolved",
                "occurred_at": (start + timedelta(minutes=minutes)).isoformat(),
            },
        )
        assert answer.status_code == 201, answer.text
    url = f"/v1/customers/{customer['id']}/interactions"
    first = (
        await identity.client.get(url, headers=bearer(cast.agent_15), params={"limit": 2})
    ).json()
    second = (
        await identity.client.get(
            url, headers=bearer(cast.agent_15), params={"limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    times = [i["occurred_at"] for i in first["items"] + second["items"]]
    assert times == sorted(times, reverse=True)
    assert len(times) == 3
    assert second["next_cursor"] is None


def fake_event(owner: str, type_: str, at: datetime, **data: Any) -> Any:
    spec = REGISTRY[type_]
    payload = spec.payload.model_validate(data)
    return spec.envelope(subject=str(uuid.uuid4()), customer_id=owner, data=payload, time=at)


async def test_events_arriving_twice_and_out_of_order_make_one_entry_each_in_time_order(
    identity: LiveService, cast: Cast
) -> None:
    customer_id = (await register(identity, cast.agent_15))["id"]
    await eventually(lambda: _count(identity, cast, customer_id, 1), what="registration projected")
    base = datetime.now(UTC) - timedelta(days=2)
    events = [
        fake_event(
            customer_id,
            "identity.contract.signed",
            base + timedelta(minutes=i),
            customer_id=customer_id,
            contract_id=str(uuid.uuid4()),
            number=f"AT-15-2026-{i:07d}-0",
            offer_code="IDOOM_ADSL_20M",
        )
        for i in range(12)
    ]
    # Two events at the same instant: the event id breaks the tie, stably.
    events.append(
        fake_event(
            customer_id,
            "identity.contract.signed",
            base + timedelta(minutes=5),
            customer_id=customer_id,
            contract_id=str(uuid.uuid4()),
            number="AT-15-2026-0000099-0",
            offer_code="IDOOM_FIBRE_100M",
        )
    )
    deliveries = events + random.sample(events, 6)
    random.shuffle(deliveries)
    for event in deliveries:
        async with identity.runtime.session_factory() as session, session.begin():
            await project(session, event, identity.runtime.handler_context())

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 4, "type": "identity.contract.signed"}
        if cursor:
            params["cursor"] = cursor
        page = await timeline(identity, cast.agent_15, customer_id, **params)
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(events)
    assert len({item["event_id"] for item in seen}) == len(events)
    newest_first = sorted(events, key=lambda e: (e.time, e.id), reverse=True)
    assert [item["event_id"] for item in seen] == [e.id for e in newest_first]


async def test_a_run_of_events_projected_at_once_makes_one_entry_each_duplicates_included(
    identity: LiveService, cast: Cast
) -> None:
    # The consumer's batch path: project.many takes a fetch's run of events in one insert.
    customer_id = (await register(identity, cast.agent_15))["id"]
    await eventually(lambda: _count(identity, cast, customer_id, 1), what="registration projected")
    base = datetime.now(UTC) - timedelta(days=1)
    events = [
        fake_event(
            customer_id,
            "identity.contract.signed",
            base + timedelta(minutes=i),
            customer_id=customer_id,
            contract_id=str(uuid.uuid4()),
            number=f"AT-15-2026-{i:07d}-0",
            offer_code="IDOOM_ADSL_20M",
        )
        for i in range(6)
    ]
    run = events + events[:3]
    random.shuffle(run)
    async with identity.runtime.session_factory() as session, session.begin():
        await project.many(session, run, identity.runtime.handler_context())  # type: ignore[attr-defined]
    page = await timeline(
        identity, cast.agent_15, customer_id, limit=50, type="identity.contract.signed"
    )
    newest_first = sorted(events, key=lambda e: (e.time, e.id), reverse=True)
    assert [item["event_id"] for item in page["items"]] == [e.id for e in newest_first]


async def _count(identity: LiveService, cast: Cast, customer_id: str, n: int) -> bool:
    return len((await timeline(identity, cast.agent_15, customer_id))["items"]) >= n


async def test_the_timeline_filters_by_type_service_channel_and_time(
    identity: LiveService, cast: Cast
) -> None:
    customer_id = (await register(identity, cast.agent_15, channel="call_centre"))["id"]
    base = datetime.now(UTC) - timedelta(days=10)
    for offset, type_, data in (
        (1, "tickets.ticket.opened", {"channel": "web", "number": "TT-1"}),
        (2, "notify.message.sent", {"channel": "sms", "template": "t"}),
        (3, "tickets.ticket.status_changed", {"number": "TT-1", "status": "resolved"}),
    ):
        event = fake_raw(customer_id, type_, base + timedelta(hours=offset), data)
        async with identity.runtime.session_factory() as session, session.begin():
            await project(session, event, identity.runtime.handler_context())
    by_service = await timeline(identity, cast.agent_15, customer_id, service="tickets")
    assert [i["type"] for i in by_service["items"]] == [
        "tickets.ticket.status_changed",
        "tickets.ticket.opened",
    ]
    by_channel = await timeline(identity, cast.agent_15, customer_id, channel="sms")
    assert [i["type"] for i in by_channel["items"]] == ["notify.message.sent"]
    window = await timeline(
        identity,
        cast.agent_15,
        customer_id,
        since=(base + timedelta(hours=1, minutes=30)).isoformat(),
        until=(base + timedelta(hours=2, minutes=30)).isoformat(),
    )
    assert [i["type"] for i in window["items"]] == ["notify.message.sent"]
    resolved = by_service["items"][0]
    assert resolved["summary"] in ("Réclamation TT-1 : résolue",)


def fake_raw(customer_id: str, type_: str, at: datetime, data: dict[str, Any]) -> Any:
    from sila_common.events import CloudEvent

    service = type_.split(".")[0]
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=f"/sila/{service}",
        type=type_,
        time=at,
        subject=str(uuid.uuid4()),
        dataschema=f"https://schemas.example/{type_}",
        customerid=customer_id,
        data=data,
    )


async def test_a_customer_reads_their_own_timeline_and_nobody_elses(
    identity: LiveService, cast: Cast
) -> None:
    mine = await register(identity, cast.agent_15)
    theirs = await register(identity, cast.agent_15)
    token = await customer_token(identity, mine["id"])
    own = await identity.client.get(f"/v1/customers/{mine['id']}/timeline", headers=bearer(token))
    assert own.status_code == 200
    other = await identity.client.get(
        f"/v1/customers/{theirs['id']}/timeline", headers=bearer(token)
    )
    assert other.status_code == 404


async def test_each_timeline_page_read_is_audited_and_a_refused_read_is_not(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15)
    url = f"/v1/customers/{customer['id']}/timeline"
    correlation = f"timeline-{uuid.uuid4().hex}"
    first = await identity.client.get(
        url, headers=bearer(cast.agent_15) | {"X-Request-ID": correlation}
    )
    second = await identity.client.get(url, headers=bearer(cast.agent_15))
    refused = await identity.client.get(url, headers=bearer(cast.agent_16))
    assert (first.status_code, second.status_code, refused.status_code) == (200, 200, 404)

    log = audit_log.c
    async with identity.runtime.session_factory() as session:
        rows = (
            await session.execute(
                select(log.actor_id, log.detail, log.correlation_id)
                .where(log.customer_id == customer["id"], log.action == "timeline.read")
                .order_by(log.id)
            )
        ).all()
    assert [row.actor_id for row in rows] == [cast.agent_15_id, cast.agent_15_id]
    assert rows[0].detail == {} and rows[0].correlation_id == correlation


async def test_a_plain_page_request_answers_as_the_same_request_solved_by_fastapi(
    identity: LiveService, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No query, or only a cursor and a limit, is given its arguments directly
    # (TimelinePageRoute); with any other parameter (here a ``since`` before every entry,
    # the same page) FastAPI solves them. Same answers, same problems, same audit.
    customer_id = (await register(identity, cast.agent_15))["id"]
    base = datetime.now(UTC) - timedelta(days=1)
    events = [
        fake_raw(customer_id, "notify.message.sent", base + timedelta(minutes=i), {"channel": c})
        for i, c in enumerate(["sms", "email"] * 3)
    ]
    async with identity.runtime.session_factory() as session, session.begin():
        await project.many(session, events, identity.runtime.handler_context())  # type: ignore[attr-defined]

    async def all_there() -> bool:  # the registration's entry comes through the consumer
        return len((await timeline(identity, cast.agent_15, customer_id))["items"]) == 7

    await eventually(all_there, what="the seven entries")
    solving = FastApiSolving(monkeypatch)
    since = {"since": (base - timedelta(days=1)).isoformat()}

    async def both(
        token: str | None, customer: str, query: dict[str, str], language: str | None = None
    ) -> tuple[httpx.Response, httpx.Response]:
        headers = (bearer(token) if token else {}) | (
            {"Accept-Language": language} if language else {}
        )
        url = f"/v1/customers/{customer}/timeline"
        before = solving.count
        plain = await identity.client.get(url, headers=headers, params=query)
        assert solving.count == before, f"{query} is not solved by FastAPI"
        general = await identity.client.get(url, headers=headers, params=query | since)
        assert solving.count == before + 1
        return plain, general

    reads = await timeline_reads(identity, customer_id)  # the waiting's
    for query, language in (({}, None), ({}, "ar, en;q=0.5"), ({"limit": "200"}, None)):
        plain, general = await both(cast.agent_15, customer_id, query, language)
        assert plain.status_code == general.status_code == 200
        assert plain.content == general.content
        reads += 2
    query = {"limit": "2"}
    while True:  # the pages by their cursors
        plain, general = await both(cast.agent_15, customer_id, query)
        assert plain.status_code == general.status_code == 200
        assert plain.content == general.content
        reads += 2
        if not (cursor := plain.json()["next_cursor"]):
            break
        query = {"limit": "2", "cursor": cursor}
    own = await customer_token(identity, customer_id)
    plain, general = await both(own, customer_id, {})
    assert plain.status_code == general.status_code == 200 and plain.content == general.content
    reads += 2
    for token, customer, query, status in (
        (cast.agent_15, customer_id, {"cursor": "not-a-cursor"}, 422),
        (None, customer_id, {}, 401),
        (cast.marketing_15, customer_id, {}, 403),  # an agent without customer care
        (cast.agent_16, customer_id, {}, 404),  # another wilaya
        (own, (await register(identity, cast.agent_15))["id"], {}, 404),  # someone else
        (cast.agent_15, "no-such-customer", {}, 404),
    ):
        plain, general = await both(token, customer, query)
        assert plain.status_code == general.status_code == status
        assert without_correlation(problem_of(plain)) == without_correlation(problem_of(general))
    for limit in ("0", "201", "050", "x"):  # not plain: FastAPI's answer, solved by it
        before = solving.count
        refused = await identity.client.get(
            f"/v1/customers/{customer_id}/timeline",
            headers=bearer(cast.agent_15),
            params={"limit": limit},
        )
        assert solving.count == before + 1
        assert refused.status_code == (200 if limit == "050" else 422)
        reads += limit == "050"
    assert await timeline_reads(identity, customer_id) == reads, "a refused read not audited"


async def timeline_reads(identity: LiveService, customer_id: str) -> int:
    """How many timeline.read rows the audit log holds about this customer."""
    log = audit_log.c
    async with identity.runtime.session_factory() as session:
        audited = await session.scalar(
            select(func.count()).where(
                log.customer_id == customer_id, log.action == "timeline.read"
            )
        )
    return int(audited or 0)


async def test_an_otp_request_shows_on_the_timeline_without_its_code(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15)
    assert (
        await identity.client.post("/v1/auth/otp", json={"phone": customer["phone"]})
    ).status_code == 202

    async def entry() -> dict[str, Any] | None:
        items = (await timeline(identity, cast.agent_15, customer["id"]))["items"]
        return next((i for i in items if i["type"] == "identity.otp.requested"), None)

    found = await eventually(entry, what="the code request on the timeline")
    assert "code" not in found["data"]
    assert found["summary"] == "Code de connexion envoyé par SMS"


async def test_the_timeline_names_an_offer_in_the_readers_language_never_by_its_code(
    identity: LiveService, cast: Cast
) -> None:
    customer_id = (await register(identity, cast.agent_15))["id"]
    signed = await identity.client.post(
        f"/v1/customers/{customer_id}/contracts",
        headers=bearer(cast.agent_15),
        json={"offer_code": "IDOOM_ADSL_10M"},
    )
    assert signed.status_code == 201, signed.text
    number = signed.json()["number"]
    # A line of billing's, recharged: the same naming.
    recharged = fake_raw(
        customer_id,
        "billing.subscription.recharged",
        datetime.now(UTC) - timedelta(minutes=1),
        {
            "subscription_id": str(uuid.uuid4()),
            "customer_id": customer_id,
            "offer_code": "IDOOM_FIBRE_100M",
            "expires_at": "2026-03-03T17:00:00Z",
        },
    )
    async with identity.runtime.session_factory() as session, session.begin():
        await project(session, recharged, identity.runtime.handler_context())

    async def summaries(language: str) -> dict[str, str] | None:
        items = (await timeline(identity, cast.agent_15, customer_id, lang=language))["items"]
        found = {
            item["type"]: item["summary"]
            for item in items
            if item["type"] in ("identity.contract.signed", "billing.subscription.recharged")
        }
        return found if len(found) == 2 else None

    french = await eventually(lambda: summaries("fr"), what="the contract on the timeline")
    assert french["identity.contract.signed"] == (
        f"Contrat {number} souscrit (Idoom ADSL 10 Mbit/s)"
    )
    assert french["billing.subscription.recharged"] == (
        "Abonnement Idoom Fibre 100 Mbit/s rechargé jusqu'au 03/03/2026 18:00"
    )
    arabic = await summaries("ar")
    assert arabic is not None
    assert "إيدوم ADSL بسرعة 10 ميغابت/ثا" in arabic["identity.contract.signed"]
    assert "إيدوم الألياف البصرية بسرعة 100 ميغابت/ثا" in arabic["billing.subscription.recharged"]
    english = await summaries("en")
    assert english is not None
    for sentences in (french, arabic, english):
        for sentence in sentences.values():
            assert "IDOOM_" not in sentence, sentence


async def test_every_filter_with_the_cursor_walks_what_a_filter_by_hand_finds(
    identity: LiveService, cast: Cast
) -> None:
    # The page is one statement whose filters are parameters (an absent one is NULL): each
    # combination, page after page, gives the entries that filtering by hand gives, newest
    # first, and the customer never sees an internal note.
    customer_id = (await register(identity, cast.agent_15))["id"]
    base = datetime.now(UTC) - timedelta(days=5)
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("tickets.ticket.opened", {"channel": "web", "number": "TT-7"}),
        ("notify.message.sent", {"channel": "sms"}),
        ("notify.message.sent", {"channel": "email"}),
        ("billing.invoice.issued", {"number": "F-7", "amount_centimes": 1200}),
        ("tickets.note.added", {"number": "TT-7", "public": False}),
        ("tickets.note.added", {"number": "TT-7", "public": True}),
    ]
    events = [
        fake_raw(customer_id, type_, base + timedelta(minutes=i // 2), data)  # pairs tie
        for i, (type_, data) in enumerate(kinds * 5)
    ]
    async with identity.runtime.session_factory() as session, session.begin():
        await project.many(session, events, identity.runtime.handler_context())  # type: ignore[attr-defined]
    # Only these events: the registration's entry is outside the window.
    window = {"since": base.isoformat(), "until": (base + timedelta(days=1)).isoformat()}
    middle = (base + timedelta(minutes=4)).isoformat()
    cases: list[dict[str, Any]] = [
        {},
        {"service": "notify"},
        {"channel": ["sms", "web"]},
        {"type": ["billing.invoice.issued", "tickets.note.added"], "since": middle},
        {"service": ["tickets", "notify"], "channel": "sms", "until": middle},
    ]
    me = await customer_token(identity, customer_id)
    for reader, staff in ((cast.agent_15, True), (me, False)):
        for case in cases:
            params = window | case
            expected = [
                e.id
                for e in sorted(events, key=lambda e: (e.time, e.id), reverse=True)
                if _matches(e, params) and (staff or e.data.get("public") is not False)
            ]
            assert expected, params
            assert await _walk(identity, reader, customer_id, params) == expected, params


def _matches(event: Any, params: dict[str, Any]) -> bool:
    def listed(name: str) -> list[str] | None:
        value = params.get(name)
        return [value] if isinstance(value, str) else value

    types, services, channels = listed("type"), listed("service"), listed("channel")
    return (
        (types is None or event.type in types)
        and (services is None or event.service in services)
        and (channels is None or event.data.get("channel") in channels)
        and event.time >= datetime.fromisoformat(params["since"])
        and event.time < datetime.fromisoformat(params["until"])
    )


async def _walk(
    identity: LiveService, token: str, customer_id: str, params: dict[str, Any]
) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        paged = params | ({"cursor": cursor} if cursor else {})
        page = await timeline(identity, token, customer_id, limit=3, **paged)
        seen.extend(item["event_id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def test_a_page_is_read_from_the_index_from_the_cursor_on_whatever_the_filters(
    identity: LiveService,
) -> None:
    # The page's statement is prepared once and kept (asyncpg's cache), so PostgreSQL may run
    # it with the plan it made for any parameters (the generic plan): even then the entries
    # are read newest first from the customer's index entries, starting at the cursor and
    # bounded by since and until (an index range, not a filter over the whole timeline), and
    # nothing sorts the customer's timeline before the limit.
    arguments = (
        "'c', '{*}', now(), 'agent', 'a', 'timeline.read', '{}', NULL, "
        "now(), 'e', now() - interval '1 day', now(), '{t}', '{s}', '{c}', false, 51"
    )
    async with identity.runtime.engine.connect() as connection:
        await connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        await connection.exec_driver_sql(f"PREPARE timeline_page AS {PAGE_AUDITED}")
        plan = (
            await connection.exec_driver_sql(
                f"EXPLAIN (FORMAT JSON) EXECUTE timeline_page({arguments})"
            )
        ).scalar_one()
        await connection.exec_driver_sql("DEALLOCATE timeline_page")
        await connection.rollback()
    [scan] = _nodes(plan[0]["Plan"], "timeline_entries")
    assert scan["Node Type"] == "Index Scan", scan
    assert scan["Index Name"] == "ix_timeline_customer_order", scan
    assert scan["Scan Direction"] == "Backward", scan
    condition = scan["Index Cond"]
    assert "ROW(occurred_at, (event_id)::text) < ROW(" in condition, condition
    assert "occurred_at >= " in condition and "occurred_at < " in condition, condition


def _nodes(node: dict[str, Any], relation: str, parent: str = "") -> list[dict[str, Any]]:
    """The plan's nodes reading ``relation`` (each asserted to sit right under the Limit)."""
    found = []
    if node.get("Relation Name") == relation:
        assert parent == "Limit", f"{relation} is read under a {parent}, not the page's limit"
        found.append(node)
    for child in node.get("Plans", []):
        found.extend(_nodes(child, relation, node["Node Type"]))
    return found


async def test_a_page_on_a_connection_the_server_dropped_fails_once_then_reads_again(
    identity: LiveService, cast: Cast
) -> None:
    # The page's statement runs on the driver, which SQLAlchemy does not watch: a connection
    # the server dropped is thrown away by the failing read, not lent again by the pool.
    customer_id = (await register(identity, cast.agent_15))["id"]
    url = identity.runtime.engine.url.render_as_string(hide_password=False)
    engine = make_engine(url, pool_size=1)
    arguments = (customer_id, ["15"], datetime.now(UTC), "agent", "a", "timeline.read", "{}")
    page = (*arguments, None, *(None,) * 7, True, 51)
    try:
        first = (await fetch_on_pool(engine, PAGE_AUDITED, *page))[0]
        await drop_the_pools_connection(engine, identity.runtime.engine)
        with pytest.raises(
            (asyncpg.InterfaceError, asyncpg.InternalClientError, asyncpg.PostgresError)
        ):
            await fetch_on_pool(engine, PAGE_AUDITED, *page)
        again = (await fetch_on_pool(engine, PAGE_AUDITED, *page))[0]
        assert first["id"] == again["id"] == customer_id and again["in_scope"]
    finally:
        await engine.dispose()


async def test_a_run_of_events_keeps_no_personal_data_of_a_customer_erased_before_it_arrives(
    identity: LiveService, cast: Cast
) -> None:
    # The batch insert names the erased customers among the run: theirs go in scrubbed,
    # the others' as they are, in the same run.
    erased_id = (await register(identity, cast.agent_15))["id"]
    kept_id = (await register(identity, cast.agent_15))["id"]
    answer = await identity.client.post(
        f"/v1/customers/{erased_id}/erasure", headers=bearer(cast.supervisor_15)
    )
    assert answer.status_code == 200, answer.text
    at = datetime.now(UTC)
    run = [
        fake_event(
            owner,
            "identity.contract.signed",
            at,
            customer_id=owner,
            contract_id=str(uuid.uuid4()),
            number=f"AT-15-2026-{n:07d}-0",
            offer_code="IDOOM_ADSL_20M",
            line_number="026 12 34 56",
        )
        for n, owner in enumerate((kept_id, erased_id, kept_id))
    ]
    async with identity.runtime.session_factory() as session, session.begin():
        await project.many(session, run, identity.runtime.handler_context())  # type: ignore[attr-defined]
        await project.many(session, run, identity.runtime.handler_context())  # type: ignore[attr-defined]
    async with identity.runtime.session_factory() as session:
        rows = (
            await session.execute(
                select(timeline_entries.c.event_id, timeline_entries.c.data).where(
                    timeline_entries.c.event_id.in_([event.id for event in run])
                )
            )
        ).all()
    lines = {row.event_id: row.data.get("line_number") for row in rows}
    assert lines == {run[0].id: "026 12 34 56", run[1].id: None, run[2].id: "026 12 34 56"}
    assert {row.event_id: row.data["number"] for row in rows}[run[1].id] == "AT-15-2026-0000001-0"
