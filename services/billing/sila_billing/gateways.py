"""The payment providers over HTTP: SATIM's gateway (CIB, Edahabia) and Khlass (CCP).

Both answer the same three questions for a payment: register it (where to send the
customer), what became of it (asked server-side, never read from the return URL), and
refund part of it. A provider that errs or hangs raises ``ProviderUnavailable``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from sila_billing.domain.money import CURRENCY_NUMERIC
from sila_billing.domain.providers import Confirmation, khlass_confirmation, satim_confirmation
from sila_billing.runtime import BillingRuntime
from sila_billing.settings import BillingSettings


class ProviderUnavailable(Exception):
    """The provider answered 5xx, timed out or could not be reached."""


class ProviderRefused(Exception):
    """The provider understood and said no (duplicate order, refund above what is left...)."""


@dataclass(frozen=True)
class Registration:
    order_id: str
    redirect_url: str


@dataclass(frozen=True)
class ReportLine:
    order_id: str
    order_number: str
    amount_centimes: int
    paid: bool
    refunded_centimes: int


class Provider(Protocol):
    async def register(
        self, *, order_number: str, amount: int, return_url: str, language: str, payment_id: str
    ) -> Registration: ...

    async def confirm(self, order_id: str) -> Confirmation: ...

    async def refund(self, order_id: str, amount: int) -> None: ...

    async def report(self) -> list[ReportLine]: ...


async def _call(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Any:
    try:
        answer = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"{type(exc).__name__} calling the provider") from exc
    if answer.status_code >= 500:
        raise ProviderUnavailable(f"the provider answered {answer.status_code}")
    try:
        return answer.status_code, answer.json()
    except ValueError as exc:
        raise ProviderUnavailable("the provider answered something that is not JSON") from exc


class Satim:
    def __init__(self, settings: BillingSettings, client: httpx.AsyncClient) -> None:
        self.base = settings.satim_url.rstrip("/") + "/payment/rest"
        self.credentials = {
            "userName": settings.satim_username,
            "password": settings.satim_password.get_secret_value(),
        }
        self.client = client

    async def register(
        self, *, order_number: str, amount: int, return_url: str, language: str, payment_id: str
    ) -> Registration:
        _, body = await _call(
            self.client,
            "POST",
            f"{self.base}/register.do",
            data=self.credentials
            | {
                "orderNumber": order_number,
                "amount": str(amount),
                "currency": CURRENCY_NUMERIC,
                "returnUrl": return_url,
                "failUrl": return_url,
                "language": language,
                "jsonParams": json.dumps({"udf1": payment_id}),
            },
        )
        if str(body.get("errorCode", "0")) != "0" or not body.get("orderId"):
            raise ProviderRefused(str(body.get("errorMessage", "register.do refused")))
        return Registration(str(body["orderId"]), str(body["formUrl"]))

    async def confirm(self, order_id: str) -> Confirmation:
        _, body = await _call(
            self.client,
            "POST",
            f"{self.base}/public/acknowledgeTransaction.do",
            data=self.credentials | {"mdOrder": order_id, "language": "fr"},
        )
        return satim_confirmation(body)

    async def refund(self, order_id: str, amount: int) -> None:
        _, body = await _call(
            self.client,
            "POST",
            f"{self.base}/refund.do",
            data=self.credentials | {"orderId": order_id, "amount": str(amount)},
        )
        if str(body.get("errorCode")) != "0":
            raise ProviderRefused(str(body.get("errorMessage", "refund.do refused")))

    async def report(self) -> list[ReportLine]:
        root = self.base.removesuffix("/payment/rest")
        _, body = await _call(self.client, "GET", f"{root}/_sim/report")
        return [
            ReportLine(
                order_id=str(row["orderId"]),
                order_number=str(row["orderNumber"]),
                amount_centimes=int(row["depositAmount"] or row["amount"]),
                paid=int(row["OrderStatus"]) in (2, 4) or int(row["depositAmount"]) > 0,
                refunded_centimes=int(row.get("refundedAmount") or 0),
            )
            for row in body.get("orders", [])
        ]


class Khlass:
    def __init__(self, settings: BillingSettings, client: httpx.AsyncClient) -> None:
        self.base = settings.khlass_url.rstrip("/") + "/api/v1"
        self.headers = {"Authorization": f"Bearer {settings.khlass_api_key.get_secret_value()}"}
        self.client = client

    async def register(
        self, *, order_number: str, amount: int, return_url: str, language: str, payment_id: str
    ) -> Registration:
        status, body = await _call(
            self.client,
            "POST",
            f"{self.base}/payments",
            headers=self.headers,
            json={
                "order_number": order_number,
                "amount": amount,
                "currency": CURRENCY_NUMERIC,
                "return_url": return_url,
                "language": language,
            },
        )
        if status != 201:
            raise ProviderRefused(str(body.get("error", "Khlass refused the payment")))
        return Registration(str(body["payment_id"]), str(body["payment_url"]))

    async def confirm(self, order_id: str) -> Confirmation:
        status, body = await _call(
            self.client, "GET", f"{self.base}/payments/{order_id}", headers=self.headers
        )
        if status != 200:
            raise ProviderUnavailable(f"Khlass answered {status} for a known payment")
        return khlass_confirmation(body)

    async def refund(self, order_id: str, amount: int) -> None:
        status, body = await _call(
            self.client,
            "POST",
            f"{self.base}/payments/{order_id}/refunds",
            headers=self.headers,
            json={"amount": amount},
        )
        if status != 201:
            raise ProviderRefused(str(body.get("error", "Khlass refused the refund")))

    async def report(self) -> list[ReportLine]:
        _, body = await _call(self.client, "GET", f"{self.base}/report", headers=self.headers)
        return [
            ReportLine(
                order_id=str(row["payment_id"]),
                order_number=str(row["order_number"]),
                amount_centimes=int(row["amount"]),
                paid=row["status"] in ("paid", "refunded", "partially_refunded"),
                refunded_centimes=int(row.get("refunded_amount") or 0),
            )
            for row in body.get("payments", [])
        ]


@dataclass
class Gateways:
    satim: Satim
    khlass: Khlass

    def for_method(self, method: str) -> Provider:
        return self.khlass if method == "khlass" else self.satim


def gateways_of(runtime: BillingRuntime) -> Gateways:
    """The runtime's providers, made once (one HTTP client, its pool reused, closed with the
    runtime)."""
    existing = runtime.collaborators.find(Gateways)
    if existing is not None:
        return existing
    settings = runtime.settings
    client = httpx.AsyncClient(timeout=settings.provider_timeout_seconds)
    made = Gateways(Satim(settings, client), Khlass(settings, client))
    runtime.collaborators.add(made)
    runtime.closers.append(client.aclose)
    return made
