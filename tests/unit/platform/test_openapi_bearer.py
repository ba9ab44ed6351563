"""Every service's OpenAPI document declares the bearer (JWT) scheme on its authenticated
operations, so the API pages' "Try it out" can send a token; public operations (the offers
catalogue, health, the token endpoint, the JWKS) carry none.

The app is built without its lifespan: the document needs no database."""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest

from sila_common.app import create_app

SERVICES = ("identity", "tickets", "billing", "loyalty", "notify")


async def document_of(name: str) -> dict[str, Any]:
    definition = importlib.import_module(f"sila_{name}.service").definition
    app = create_app(definition)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def security_of(document: dict[str, Any], path: str, method: str) -> list[dict[str, Any]]:
    operation = document["paths"][path][method]
    security: list[dict[str, Any]] = operation.get("security", [])
    return security


@pytest.mark.parametrize("name", SERVICES)
async def test_each_service_declares_the_bearer_scheme(name: str) -> None:
    document = await document_of(name)
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert scheme == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": scheme["description"],
    }
    secured = [
        (path, method)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if {"bearer": []} in operation.get("security", [])
    ]
    assert secured, f"{name}: no operation asks for the bearer token"


async def test_authenticated_operations_ask_for_it_and_public_ones_do_not() -> None:
    tickets = await document_of("tickets")
    assert security_of(tickets, "/v1/tickets", "post") == [{"bearer": []}]
    billing = await document_of("billing")
    assert security_of(billing, "/v1/offers", "get") == []
    identity = await document_of("identity")
    assert security_of(identity, "/v1/oauth/token", "post") == []
    assert security_of(identity, "/.well-known/jwks.json", "get") == []
    loyalty = await document_of("loyalty")
    assert security_of(loyalty, "/v1/loyalty/accounts/{customer_id}", "get") == [{"bearer": []}]
    for path, item in loyalty["paths"].items():
        if "health" in path:
            assert all(not op.get("security") for op in item.values()), path


@pytest.mark.parametrize("header", [None, "Basic dXNlcjpwYXNz", "Bearer", "bearer "])
async def test_the_documented_scheme_leaves_the_401_problem_as_it_was(header: str | None) -> None:
    # An operation that needs nothing but the principal (the app runs without its runtime).
    definition = importlib.import_module("sila_loyalty.service").definition
    transport = httpx.ASGITransport(app=create_app(definition))
    headers = {"Authorization": header} if header is not None else {}
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        answer = await client.get("/v1/loyalty/redemption-options", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["detail"] == "A bearer token is required."
