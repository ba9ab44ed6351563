"""Issue 9, items 6 to 9: each attack, through the path a real client takes, now refused.

Agents and partners are made through the admin API, tokens come from the real grants, the
edge is the real gateway on a socket in front of the services on theirs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sila_common.destinations import DestinationRefused, check_addresses, check_destination
from sila_common.otp_transport import DEV_KEY
from sila_common.settings import Profile
from sila_gateway.app import create_gateway
from sila_identity.service import check_production_secrets
from sila_identity.settings import IdentitySettings
from sila_notify.flows.campaigns import CampaignPlanner
from sila_notify.tables import campaign_sends
from tests.integration.security.conftest import Stack
from tests.integration.simulators.servers import serve
from tests.support import bearer, problem_of

PASSWORD = "a long enough password 42"


async def http(stack: Stack, service: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.urls[service], timeout=30)


async def make_agent(stack: Stack, roles: list[str]) -> str:
    username = f"agent-{uuid.uuid4().hex[:8]}"
    async with await http(stack, "identity") as client:
        made = await client.post(
            "/v1/admin/identity/agents",
            headers=bearer(stack.admin_token),
            json={
                "username": username,
                "display_name": "Agent Test",
                "password": PASSWORD,
                "roles": roles,
                "wilayas": ["*"],
            },
        )
    assert made.status_code == 201, made.text
    return username


async def password_login(
    client: httpx.AsyncClient, username: str, password: str, address: str
) -> httpx.Response:
    return await client.post(
        "/v1/oauth/token",
        data={"grant_type": "password", "username": username, "password": password},
        headers={"X-Forwarded-For": address},
    )


# -- 6. denial of service ------------------------------------------------------------------


async def test_wrong_passwords_from_one_address_do_not_lock_the_owner_out(stack: Stack) -> None:
    username = await make_agent(stack, ["admin"])
    attacker, owner = "198.51.100.7", "203.0.113.9"
    async with await http(stack, "identity") as client:
        statuses = [
            (await password_login(client, username, "guess", attacker)).status_code
            for _ in range(12)
        ]
        # The guesser is stopped after ten failures, even with the right password...
        assert statuses[:10] == [400] * 10 and statuses[10:] == [429, 429]
        assert (await password_login(client, username, PASSWORD, attacker)).status_code == 429
        # ...while the owner, from their own address, still logs in (slowed, not locked).
        assert (await password_login(client, username, PASSWORD, owner)).status_code == 200


async def test_client_credentials_guessing_is_limited_per_address(stack: Stack) -> None:
    async with await http(stack, "identity") as client:
        made = await client.post(
            "/v1/admin/identity/partners",
            headers=bearer(stack.admin_token),
            json={"name": "Partenaire Test", "scopes": ["tickets:read"]},
        )
        assert made.status_code == 201, made.text
        client_id = made.json()["client_id"]
        form = {"grant_type": "client_credentials", "client_id": client_id}
        statuses = [
            (
                await client.post(
                    "/v1/oauth/token",
                    data=form | {"client_secret": f"wrong-{n}"},
                    headers={"X-Forwarded-For": "192.0.2.44"},
                )
            ).status_code
            for n in range(11)
        ]
        assert statuses == [401] * 10 + [429]
        secret = made.json()["client_secret"]
        elsewhere = await client.post(
            "/v1/oauth/token",
            data=form | {"client_secret": secret},
            headers={"X-Forwarded-For": "192.0.2.45"},
        )
        assert elsewhere.status_code == 200


async def test_a_campaign_rate_that_would_overflow_is_refused(stack: Stack) -> None:
    async with await http(stack, "notify") as client:
        for rate in (1e-300, 0, -1, 1e9):
            answer = await client.post(
                "/v1/campaign-sends",
                headers=bearer(stack.admin_token),
                json={
                    "name": "Promo Ramadan",
                    "variables": {"offer": "Idoom Fibre"},
                    "rate_per_second": rate,
                },
            )
            assert answer.status_code == 422, (rate, answer.text)
            assert "rate_per_second" in str(problem_of(answer)["errors"])


async def test_a_campaign_stored_with_a_tiny_rate_does_not_stall_the_planner(
    stack: Stack,
) -> None:
    runtime = stack.services["notify"].runtime
    async with await http(stack, "notify") as client:
        good = await client.post(
            "/v1/campaign-sends",
            headers=bearer(stack.admin_token),
            json={"name": "Promo Fibre", "variables": {"offer": "Idoom Fibre"}},
        )
    assert good.status_code in (201, 202), good.text
    tiny_id, broken_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC)
    async with runtime.session_factory() as session, session.begin():
        for campaign_id, rate, segment, age in (
            # A row written before rates were bounded...
            (tiny_id, 1e-300, {}, timedelta(days=1)),
            # ...and one the planner cannot plan at all, first in the queue.
            (broken_id, 10.0, {"wilaya_codes": 5}, timedelta(days=2)),
        ):
            await session.execute(
                campaign_sends.insert().values(
                    id=campaign_id,
                    name="old",
                    event_type="campaign.offer",
                    channel="sms",
                    segment=segment,
                    variables={"offer": "Idoom Fibre"},
                    state="planning",
                    rate_per_second=rate,
                    cursor=None,
                    targeted=0,
                    skipped=0,
                    next_slot=now - age,
                    created_by="test",
                    created_at=now - age,
                )
            )
    planner = CampaignPlanner(
        session_factory=runtime.session_factory,
        settings=runtime.settings,
    )
    for _ in range(5):
        await planner.run_once()
    async with runtime.session_factory() as session:
        states = dict(
            (
                await session.execute(
                    campaign_sends.select().with_only_columns(
                        campaign_sends.c.id, campaign_sends.c.state
                    )
                )
            ).all()
        )
    assert states[broken_id] == "failed"
    assert states[tiny_id] == "planned"
    assert states[good.json()["id"]] == "planned"


# -- 7. crafted input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Sarl\u202eexe.gpj", "Sarl\x00Zero", "Sarl\u2066Iso"], ids=["rlo", "nul", "isolate"]
)
async def test_nul_and_directional_overrides_in_names_are_refused(stack: Stack, name: str) -> None:
    async with await http(stack, "identity") as client:
        answer = await client.post(
            "/v1/admin/identity/partners",
            headers=bearer(stack.admin_token),
            json={"name": name, "scopes": ["tickets:read"]},
        )
    assert answer.status_code == 422, answer.text
    problem_of(answer)


async def test_incident_end_dates_and_report_periods_out_of_range_are_refused(
    stack: Stack,
) -> None:
    area = {"kind": "wilaya", "value": "16"}
    async with await http(stack, "tickets") as client:
        for end in (
            (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            "2199-01-01T00:00:00+00:00",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+14:00",
        ):
            answer = await client.post(
                "/v1/incidents",
                headers=bearer(stack.admin_token),
                json={"service": "adsl", "area": area, "estimated_end_at": end},
            )
            assert answer.status_code == 422, (end, answer.text)
        for period in (
            {"from": "0", "to": "2026-02-01T00:00:00+01:00"},
            {"from": "1901-01-01T00:00:00Z", "to": "2026-02-01T00:00:00+01:00"},
            {"from": "0001-01-01T00:00:00+14:00", "to": "9999-12-31T23:59:59-23:59"},
        ):
            answer = await client.get(
                "/v1/reports/tickets", headers=bearer(stack.admin_token), params=period
            )
            assert answer.status_code == 422, (period, answer.text)
            problem_of(answer)


# -- 8. the edge ---------------------------------------------------------------------------


@pytest.fixture
async def edge(stack: Stack) -> AsyncIterator[str]:
    """The gateway on a socket; loyalty's place is taken by an upstream that crashes."""

    async def crash(_request: Request) -> JSONResponse:
        raise RuntimeError("a bug")

    async def fine(_request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    broken = Starlette(
        routes=[
            Route("/v1/loyalty/crash", crash),
            Route("/v1/loyalty/ok", fine, methods=["GET", "POST"]),
        ]
    )
    async with serve(broken) as broken_url:
        upstreams = {**stack.urls, "loyalty": broken_url}
        async with serve(create_gateway(upstreams)) as url:
            yield url


@pytest.mark.parametrize(
    "path",
    [
        "/v1/customers/..%2f..%2fmetrics",
        "/v1/customers/%2e%2e/%2e%2e/metrics",
        "/v1/customers/%2E%2E/%2E%2E/docs",
        "/v1/customers/..%5c..%5cmetrics",
        "/v1/customers/%00",
        "/metrics",
        "/docs",
        "/openapi.json",
    ],
)
async def test_the_edge_never_reaches_unlisted_paths(edge: str, path: str) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.get(edge + path)
    assert answer.status_code in (400, 404), answer.text
    problem_of(answer)


async def test_a_body_over_a_mebibyte_is_refused_at_the_edge_declared_or_streamed(
    edge: str,
) -> None:
    """As nginx's `client_max_body_size 1m`: the services' input checks assume no more."""
    big = b'{"subject": "' + b"x" * (1024 * 1024) + b'"}'

    async def streamed() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    async with httpx.AsyncClient(base_url=edge, timeout=30) as client:
        declared = await client.post("/v1/loyalty/ok", content=big)
        chunked = await client.post("/v1/loyalty/ok", content=streamed())
        small = await client.post("/v1/loyalty/ok", content=b'{"subject": "x"}')
    for refused in (declared, chunked):
        assert refused.status_code == 413, refused.text
        assert problem_of(refused)["status"] == 413
    assert small.status_code == 200


async def test_after_an_upstream_crash_the_next_request_gets_through(edge: str) -> None:
    async with httpx.AsyncClient(base_url=edge) as client:
        crashed = await client.get("/v1/loyalty/crash")
        assert crashed.status_code == 500
        for _ in range(3):
            answer = await client.get("/v1/loyalty/ok")
            assert answer.status_code == 200, answer.text


async def test_an_empty_bearer_token_through_the_edge_is_a_401_not_a_502(edge: str) -> None:
    """``Authorization: Bearer `` (a script whose token variable is empty, as curl sends it):
    the edge forwards the value without its trailing space, and the service refuses it."""
    host, port = urlsplit(edge).hostname, urlsplit(edge).port
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        b"GET /v1/customers HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer \r\n"
        b"Connection: close\r\n\r\n"
    )
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status = answer.split(b"\r\n", 1)[0]
    assert status.startswith(b"HTTP/1.1 401"), answer.decode(errors="replace")
    assert b"application/problem+json" in answer


async def test_answers_through_the_edge_carry_one_date_and_one_server(edge: str) -> None:
    async with httpx.AsyncClient(base_url=edge) as client:
        answer = await client.get("/.well-known/jwks.json")
    assert answer.status_code == 200
    assert len(answer.headers.get_list("date")) == 1
    assert len(answer.headers.get_list("server")) == 1


async def test_a_header_in_utf8_through_the_edge_is_forwarded_not_a_500(edge: str) -> None:
    """``Idempotency-Key: مفتاح`` (UTF-8 bytes in a header value, as curl sends them): the
    edge forwards the bytes as they came, as nginx does, instead of failing on them."""
    async with httpx.AsyncClient(base_url=edge) as client:
        answer = await client.get(
            "/.well-known/jwks.json",
            headers={
                b"Idempotency-Key": "مفتاح".encode(),
                b"Accept-Language": "ar-DZ, عربي".encode(),
            },
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["keys"]


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "PURGE"])
async def test_a_method_the_edge_never_forwards_is_a_problem(edge: str, method: str) -> None:
    async with httpx.AsyncClient(base_url=edge) as client:
        answer = await client.request(method, "/v1/tickets")
    assert answer.status_code == 405, answer.text
    assert problem_of(answer)["status"] == 405


# -- 9. defaults that failed open ----------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
        "::ffff:192.168.1.1",
        "::10.0.0.1",
    ],
)
def test_ipv6_addresses_embedding_private_ipv4_are_refused(address: str) -> None:
    with pytest.raises(DestinationRefused):
        check_addresses([ipaddress.ip_address(address)], allow_loopback=False)


async def test_a_destination_is_called_at_the_address_that_was_checked() -> None:
    destination = await check_destination("https://93.184.216.34:8443/hook?x=1", Profile.DEV)
    args = destination.request_args()
    assert args["url"] == "https://93.184.216.34:8443/hook?x=1"
    named = await check_destination("http://localhost:9/hook", Profile.DEV)
    pinned = named.request_args()
    assert pinned["headers"] == {"host": "localhost:9"}
    assert pinned["url"].startswith(("http://127.0.0.1:9/", "http://[::1]:9/"))


async def test_tickets_hub_refuses_a_callback_notify_would_refuse(stack: Stack) -> None:
    async with await http(stack, "tickets") as client:
        for callback in ("https://10.0.0.5/listener", "https://[2002:a00:1::1]/listener"):
            answer = await client.post(
                "/tmf-api/troubleTicket/v4/hub",
                headers=bearer(stack.admin_token),
                json={"callback": callback},
            )
            assert answer.status_code in (400, 422), (callback, answer.text)


async def test_a_key_withdrawn_from_the_jwks_stops_verifying_after_max_age() -> None:
    from sila_common.auth import JwksKeySource

    served = {"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": X, "y": Y}]}

    async def jwks(_request: Request) -> JSONResponse:
        return JSONResponse(served)

    async with serve(Starlette(routes=[Route("/jwks", jwks)])) as url:
        now = [1_000.0]
        source = JwksKeySource(
            f"{url}/jwks", refetch_interval=0.0, max_age=300.0, clock=lambda: now[0]
        )
        assert await source.key_for("k1") is not None
        served["keys"] = []  # rotated out, or withdrawn after a leak
        now[0] += 299.0  # still within its age: the cached key verifies
        assert await source.key_for("k1") is not None
        now[0] += 2.0  # older than max_age: refetched, and the key is gone
        with pytest.raises(Exception, match="unknown key"):
            await source.key_for("k1")


def test_production_refuses_the_published_default_secrets() -> None:
    transport = "a-private-transport-key-0123456789"
    for passphrase, otp, key in (
        ("sila-dev-signing-key-passphrase", "a-private-otp-secret-0123456789", transport),
        ("a-private-passphrase-0123456789", "sila-dev-otp-secret", transport),
        ("a-private-passphrase-0123456789", "short", transport),
        ("a-private-passphrase-0123456789", "a-private-otp-secret-0123456789", DEV_KEY),
        (
            "a-private-passphrase-0123456789",
            "a-private-otp-secret-0123456789",
            "compose-public-otp-transport-key",
        ),
    ):
        settings = IdentitySettings(
            signing_key_passphrase=passphrase, otp_secret=otp, otp_transport_key=key
        )
        with pytest.raises(RuntimeError):
            check_production_secrets(settings)
    check_production_secrets(
        IdentitySettings(
            signing_key_passphrase="a-private-passphrase-0123456789",
            otp_secret="a-private-otp-secret-0123456789",
            otp_transport_key=transport,
        )
    )


# A P-256 public key (any valid point will do for the cache test).
X = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
Y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"


async def test_a_service_error_keeps_the_connection_for_the_next_request() -> None:
    from fastapi import FastAPI

    from sila_common.problems import ContainUnexpected, install_problem_handlers

    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(ContainUnexpected)

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("a bug")

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    # Both requests on one kept-alive connection, as the edge sends them.
    async with serve(app) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            first = await _exchange(reader, writer, "/crash")
            assert first.startswith(b"HTTP/1.1 500") and b"internal-error" in first
            second = await _exchange(reader, writer, "/ok")
            assert second.startswith(b"HTTP/1.1 200"), second
        finally:
            writer.close()


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> bytes:
    """One HTTP/1.1 request and its whole answer (by Content-Length) on an open connection."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


async def test_password_checks_run_off_the_event_loop_a_few_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    from sila_identity.auth import passwords

    loop_thread = threading.get_ident()
    threads: set[int] = set()
    active = peak = 0
    lock = threading.Lock()
    real = passwords.verify_password

    def observed(password_hash: str | None, password: str) -> bool:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
            threads.add(threading.get_ident())
        try:
            return real(password_hash, password)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(passwords, "verify_password", observed)
    checker = passwords.PasswordChecker(concurrency=2)
    stored = passwords.hash_password("secret")
    results = await asyncio.gather(*(checker.verify(stored, "secret") for _ in range(6)))
    assert results == [True] * 6
    assert loop_thread not in threads
    assert peak <= 2


def test_compose_and_kubernetes_set_the_otp_secret_and_trust_the_edge_address() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    compose = (root / "docker-compose.yml").read_text()
    assert 'SILA_IDENTITY_TRUST_FORWARDED_FOR: "true"' in compose
    defaults = dict(re.findall(r"\$\{(SILA_IDENTITY_[A-Z_]+):-([^}]*)\}", compose))
    assert {"SILA_IDENTITY_SIGNING_KEY_PASSPHRASE", "SILA_IDENTITY_OTP_SECRET"} <= set(defaults)
    # The compose file's public defaults never pass the production check.
    with pytest.raises(RuntimeError):
        check_production_secrets(
            IdentitySettings(
                signing_key_passphrase=defaults["SILA_IDENTITY_SIGNING_KEY_PASSPHRASE"],
                otp_secret="a-private-otp-secret-0123456789",
            )
        )
    with pytest.raises(RuntimeError):
        check_production_secrets(
            IdentitySettings(
                signing_key_passphrase="a-private-passphrase-0123456789",
                otp_secret=defaults["SILA_IDENTITY_OTP_SECRET"],
            )
        )
    # The transport key identity and notify share: one compose default, for both, refused.
    shared = re.findall(r"SILA_OTP_TRANSPORT_KEY: \$\{SILA_OTP_TRANSPORT_KEY:-([^}]*)\}", compose)
    assert len(shared) == 2 and len(set(shared)) == 1
    with pytest.raises(RuntimeError, match="SILA_OTP_TRANSPORT_KEY"):
        check_production_secrets(
            IdentitySettings(
                signing_key_passphrase="a-private-passphrase-0123456789",
                otp_secret="a-private-otp-secret-0123456789",
                otp_transport_key=shared[0],
            )
        )
    k8s = (root / "deploy" / "k8s" / "identity.yaml").read_text()
    assert "SILA_IDENTITY_OTP_SECRET" in k8s and "key: otp-secret" in k8s
    assert re.search(r"SILA_IDENTITY_TRUST_FORWARDED_FOR\s+value: \"true\"", k8s)
    # Every process of identity and notify checks its secrets at start in prod (relays and
    # consumers too): each Deployment gets them, the transport key from the shared Secret.
    import yaml

    needed = {
        "identity": {
            "SILA_IDENTITY_SIGNING_KEY_PASSPHRASE",
            "SILA_IDENTITY_OTP_SECRET",
            "SILA_IDENTITY_SERVICE_CLIENTS",
            "SILA_OTP_TRANSPORT_KEY",
        },
        "notify": {"SILA_NOTIFY_OTP_SEALING_KEY", "SILA_OTP_TRANSPORT_KEY"},
    }
    for service, variables in needed.items():
        documents = yaml.safe_load_all((root / "deploy" / "k8s" / f"{service}.yaml").read_text())
        deployments = [d for d in documents if d and d["kind"] == "Deployment"]
        assert len(deployments) == 3, service
        for deployment in deployments:
            env = {
                e["name"]: e
                for c in deployment["spec"]["template"]["spec"]["containers"]
                for e in c.get("env", [])
            }
            assert variables <= set(env), (deployment["metadata"]["name"], variables - set(env))
            ref = env["SILA_OTP_TRANSPORT_KEY"]["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == ("sila-otp-transport", "key")
