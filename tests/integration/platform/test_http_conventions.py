"""What every endpoint of every service does the same way: problems, auth, correlation."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from sila_gateway.app import create_gateway
from sila_identity.auth.keys import KeyStore
from sila_identity.tables import messaging
from tests.integration.simulators.servers import serve
from tests.support import LiveService, bearer, problem_of, random_mobile


async def test_unknown_paths_and_methods_are_problem_details(identity: LiveService) -> None:
    missing = await identity.client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert problem_of(missing)["detail"] == "No resource at /v1/nothing-here"
    wrong_method = await identity.client.delete("/.well-known/jwks.json")
    assert wrong_method.status_code == 405
    assert problem_of(wrong_method)["type"].endswith("/method-not-allowed")


async def test_validation_errors_name_every_field_at_fault(
    identity: LiveService, admin_token: str
) -> None:
    answer = await identity.client.post(
        "/v1/customers",
        headers=bearer(admin_token),
        json={"first_name": "A", "last_name": "B", "phone": "12", "wilaya_code": "Tizi"},
    )
    assert answer.status_code == 422
    problem = problem_of(answer)
    fields = {error["field"] for error in problem["errors"]}
    assert {"body.phone", "body.wilaya_code"} <= fields


async def test_malformed_json_is_a_problem_not_a_500(
    identity: LiveService, admin_token: str
) -> None:
    answer = await identity.client.post(
        "/v1/customers",
        headers=bearer(admin_token) | {"content-type": "application/json"},
        content=b'{"first_name": ',
    )
    assert answer.status_code == 422
    problem_of(answer)


async def test_every_business_endpoint_wants_a_valid_bearer_token(
    identity: LiveService, tickets: LiveService
) -> None:
    for client, path in ((identity.client, "/v1/customers/x"), (tickets.client, "/v1/tickets/x")):
        anonymous = await client.get(path)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        problem_of(anonymous)
        garbage = await client.get(path, headers=bearer("not.a.token"))
        assert garbage.status_code == 401


async def test_a_token_signed_by_anyone_else_or_expired_is_refused(
    identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    header = jwt.get_unverified_header(admin_token)
    claims = jwt.decode(admin_token, options={"verify_signature": False})
    forged = jwt.encode(
        claims,
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
        headers={"kid": header["kid"]},
    )
    assert (await tickets.client.get("/v1/tickets/x", headers=bearer(forged))).status_code == 401

    keys = identity.runtime.collaborators.get(KeyStore)
    signing = await keys.signing_key()
    expired_claims = claims | {"exp": datetime.now(UTC) - timedelta(minutes=5)}
    expired = jwt.encode(
        expired_claims, signing.private_key, algorithm="ES256", headers={"kid": signing.kid}
    )
    answer = await tickets.client.get("/v1/tickets/x", headers=bearer(expired))
    assert answer.status_code == 401
    assert "expired" in problem_of(answer)["detail"]

    unsigned = jwt.encode(claims, key="", algorithm="none")
    assert (await tickets.client.get("/v1/tickets/x", headers=bearer(unsigned))).status_code == 401


async def test_the_correlation_id_flows_from_the_request_into_the_event(
    identity: LiveService, admin_token: str
) -> None:
    answer = await identity.client.post(
        "/v1/customers",
        headers=bearer(admin_token) | {"X-Request-ID": "req-correlation-1"},
        json={
            "first_name": "Nadia",
            "last_name": "Hamdi",
            "phone": random_mobile(),
            "wilaya_code": "16",
        },
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["x-request-id"] == "req-correlation-1"
    async with identity.runtime.session_factory() as session:
        envelope = await session.scalar(
            select(messaging.outbox.c.envelope).where(
                messaging.outbox.c.message_key == answer.json()["id"]
            )
        )
    assert envelope is not None
    envelope = envelope if isinstance(envelope, dict) else json.loads(envelope)
    assert envelope["correlationid"] == "req-correlation-1"


@pytest.mark.parametrize("offered", ["مفتاح", "a b", "x" * 129, "id\ttab", ""])
async def test_a_request_id_that_is_no_plain_token_is_replaced(
    identity: LiveService, offered: str
) -> None:
    """The id is echoed back and written in every log line and event: only a plain token of
    a caller's is kept; anything else gets a fresh id instead."""
    answer = await identity.client.get("/health/live", headers={b"X-Request-ID": offered.encode()})
    echoed = answer.headers["x-request-id"]
    assert echoed.encode() != offered.encode()
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", echoed)


async def test_health_and_metrics_answer(identity: LiveService) -> None:
    assert (await identity.client.get("/health/live")).status_code == 200
    ready = await identity.client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    metrics = await identity.client.get("/metrics")
    assert "sila_outbox_backlog" in metrics.text
    assert "sila_http_request_duration_seconds" in metrics.text


async def test_the_api_pages_load_their_document_through_the_edge(identity: LiveService) -> None:
    """README: "Interactive API pages: <gateway>/<service>/docs". The page names its OpenAPI
    document relative to itself, so behind the edge it asks for /identity/openapi.json (the
    edge routes no /openapi.json), and straight on the service for /openapi.json."""
    async with (
        serve(identity.app, lifespan="off") as service,
        serve(create_gateway({"identity": service})) as edge,
        httpx.AsyncClient(timeout=30) as client,
    ):
        for base, page in ((edge, "/identity/docs"), (edge, "/identity/redoc"), (service, "/docs")):
            html = await client.get(base + page)
            assert html.status_code == 200, html.text
            named = re.search(r"""(?:url: |spec-url=)["']([^"']+)["']""", html.text)
            assert named is not None, html.text
            document = await client.get(urljoin(base + page, named.group(1)))
            assert document.status_code == 200, (page, named.group(1), document.text)
            assert "/v1/customers" in document.json()["paths"]
