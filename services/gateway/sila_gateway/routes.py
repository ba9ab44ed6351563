"""Which service answers which path prefix: the one routing table of the edge.

``ROUTES`` is the only list. The development gateway routes with it, and the production
nginx's locations and the Kubernetes Ingress's paths are generated from it (``python -m
sila_gateway edges`` rewrites the generated blocks of deploy/nginx/nginx.conf and
deploy/k8s/ingress.yaml; a test fails when either is stale), so the edges cannot drift
apart. A path no prefix names (``/metrics``, ``/docs``, a service's
operations pages) is not reachable from outside.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

ROUTES: dict[str, tuple[str, ...]] = {
    "identity": (
        "/v1/oauth",
        "/v1/auth",
        "/.well-known",
        "/v1/customers",
        "/v1/wilayas",
        "/v1/communes",
        "/v1/admin/identity",
    ),
    "tickets": ("/v1/tickets", "/v1/incidents", "/v1/reports", "/v1/surveys", "/tmf-api"),
    "billing": (
        "/v1/offers",
        "/v1/subscriptions",
        "/v1/invoices",
        "/v1/payments",
        "/v1/recharges",
        "/v1/bill-runs",
        "/v1/voucher-batches",
        "/v1/reconciliation",
    ),
    "loyalty": ("/v1/loyalty",),
    "notify": (
        "/v1/notifications",
        "/v1/notification-preferences",
        "/v1/templates",
        "/v1/webhook-subscriptions",
        "/v1/inbox",
        "/v1/campaign-sends",
        "/v1/callbacks",
    ),
}

# Development only (``make run``'s dev profile): the message viewer of the simulators.
DEV_ROUTES: dict[str, tuple[str, ...]] = {"messages": ("/dev/messages",)}

# The service's own documents, under its name: /tickets/openapi.json, /tickets/docs.
DOC_PATHS = ("/openapi.json", "/docs", "/redoc")

# Percent-encodings that would change how the path splits into segments once a server
# behind the edge decodes them: slash, backslash, dot, and NUL.
_ENCODED_SEPARATORS = re.compile(r"%(2f|5c|2e|00)", re.IGNORECASE)


class UnsafePath(ValueError):
    """A path the edge refuses before routing: it could mean another path upstream."""


def check_path(raw_path: str) -> str:
    """The decoded path once it is safe to route on; UnsafePath otherwise.

    Refused: encoded slashes, backslashes and dots (``/v1/customers/..%2f..%2fmetrics``
    would be routed as a customer path and reach ``/metrics`` upstream), dot segments,
    empty segments, backslashes and control characters. A client never needs any of them.
    """
    if _ENCODED_SEPARATORS.search(raw_path):
        raise UnsafePath("encoded slashes, backslashes, dots and NUL are not accepted in paths")
    path = unquote(raw_path)
    if not path.startswith("/"):
        raise UnsafePath("the path must start with /")
    if "\\" in path or any(ord(char) < 0x20 or ord(char) == 0x7F for char in path):
        raise UnsafePath("backslashes and control characters are not accepted in paths")
    segments = path.split("/")[1:]
    if any(segment in (".", "..") for segment in segments):
        raise UnsafePath("dot segments are not accepted in paths")
    if any(segment == "" for segment in segments[:-1]):
        raise UnsafePath("empty segments are not accepted in paths")
    return path


def route(path: str, routes: dict[str, tuple[str, ...]] = ROUTES) -> tuple[str, str] | None:
    """(service, upstream path) for a request path, or None when nothing serves it."""
    for service, prefixes in routes.items():
        for prefix in prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return service, path
        service_prefix = f"/{service}"
        if path.startswith(service_prefix + "/"):
            rest = path[len(service_prefix) :]
            if rest in DOC_PATHS or rest.startswith("/docs/"):
                return service, rest
    return None
