"""The development gateway and the production nginx edge route the same prefixes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sila_gateway.routes import ROUTES, route

NGINX = Path(__file__).resolve().parents[3] / "deploy" / "nginx" / "nginx.conf"


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


def test_nginx_routes_every_prefix_the_gateway_routes_to_the_same_service() -> None:
    config = NGINX.read_text()
    for service, prefixes in ROUTES.items():
        for prefix in prefixes:
            name = prefix.strip("/").split("/")[-1]
            pattern = re.compile(
                r"location[^{]*" + re.escape(name) + r"[^{]*\{\s*proxy_pass http://" + service
            )
            assert pattern.search(config), f"nginx does not send {prefix} to {service}"
