"""The edges route one table: the dev gateway, nginx and the Ingress; unsafe paths refused."""

from __future__ import annotations

import pytest

from sila_gateway.edges import expected
from sila_gateway.routes import UnsafePath, check_path, route
from sila_local.services import SERVICES


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/v1/customers/42/timeline", "identity"),
        ("/v1/oauth/token", "identity"),
        ("/.well-known/jwks.json", "identity"),
        ("/v1/tickets", "tickets"),
        ("/tmf-api/troubleTicket/v4/troubleTicket", "tickets"),
        ("/v1/payments/9", "billing"),
        ("/v1/loyalty/accounts/1", "loyalty"),
        ("/v1/webhook-subscriptions", "notify"),
    ],
)
def test_each_prefix_reaches_its_service(path: str, service: str) -> None:
    assert route(path) == (service, path)


def test_a_prefix_is_not_a_word_prefix_and_docs_are_served_per_service() -> None:
    assert route("/v1/ticketsfoo") is None
    assert route("/tickets/openapi.json") == ("tickets", "/openapi.json")
    assert route("/identity/docs") == ("identity", "/docs")


def test_nginx_and_the_ingress_are_generated_from_the_gateway_routes() -> None:
    for path, content in expected().items():
        assert path.read_text() == content, f"{path} is stale: run python -m sila_gateway edges"


def test_every_path_of_every_service_is_routed_to_that_service() -> None:
    for service in SERVICES:
        definition = service.definition()
        for router in definition.routers:
            for api_route in router.routes:
                path = getattr(api_route, "path", "")
                assert route(path) == (service.name, path), f"{path} does not reach {service.name}"


@pytest.mark.parametrize(
    "raw",
    [
        "/v1/customers/..%2f..%2fmetrics",
        "/v1/customers/%2e%2e/%2e%2e/docs",
        "/v1/customers/../../metrics",
        "/v1/customers/./x",
        "/v1/customers//x",
        "/v1/customers/%5c..%5cmetrics",
        "/v1/customers/%00",
        "/v1/customers/%2E%2E",
        "/v1/customers/a\\b",
    ],
)
def test_encoded_separators_and_dot_segments_are_refused(raw: str) -> None:
    with pytest.raises(UnsafePath):
        check_path(raw)


def test_plain_paths_pass_decoded() -> None:
    assert check_path("/v1/customers/abc/timeline") == "/v1/customers/abc/timeline"
    assert check_path("/v1/customers?phone=%2B213") == "/v1/customers?phone=+213"
    assert route("/metrics") is None
    assert route("/docs") is None
