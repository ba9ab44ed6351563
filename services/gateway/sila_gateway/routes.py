"""Which service answers which path prefix: the one routing table of the edge."""

from __future__ import annotations

ROUTES: dict[str, tuple[str, ...]] = {
    "identity": (
        "/v1/oauth",
        "/v1/auth",
        "/.well-known",
        "/v1/customers",
        "/v1/agents",
        "/v1/partners",
        "/v1/admin/identity",
    ),
    "tickets": ("/v1/tickets", "/v1/incidents", "/v1/reports", "/v1/surveys", "/tmf-api"),
    "billing": ("/v1/offers", "/v1/subscriptions", "/v1/invoices", "/v1/payments", "/v1/recharges"),
    "loyalty": ("/v1/loyalty",),
    "notify": (
        "/v1/notifications",
        "/v1/notification-preferences",
        "/v1/templates",
        "/v1/webhook-subscriptions",
        "/v1/inbox",
    ),
}

# Development only (``make run``'s dev profile): the message viewer of the simulators.
DEV_ROUTES: dict[str, tuple[str, ...]] = {"messages": ("/dev/messages",)}

# The service's own documents, under its name: /tickets/openapi.json, /tickets/docs.
DOC_PATHS = ("/openapi.json", "/docs", "/redoc")


def route(path: str, routes: dict[str, tuple[str, ...]] = ROUTES) -> tuple[str, str] | None:
    """(service, upstream path) for a request path, or None when nothing serves it."""
    for service, prefixes in routes.items():
        for prefix in prefixes:
            if path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + "?"):
                return service, path
        service_prefix = f"/{service}"
        if path.startswith(service_prefix + "/"):
            rest = path[len(service_prefix) :]
            if rest in DOC_PATHS or rest.startswith("/docs/"):
                return service, rest
    return None
