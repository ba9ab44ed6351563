"""A Khlass simulator: payment from an Algérie Poste CCP account, confirmed by a one-time code.

The merchant creates a payment (``POST /api/v1/payments`` with an order number, the amount in
centimes, currency 012 and a return URL, authenticated by its API key) and sends the customer
to ``payment_url``; there the customer types the CCP account number and its key, receives a
one-time code by SMS (here: ``GET /_sim/codes/{payment_id}``) and types it. The customer is
sent back to the return URL; the merchant confirms with ``GET /api/v1/payments/{id}`` and
refunds with ``POST /api/v1/payments/{id}/refunds``. ``GET /api/v1/report`` lists the day's
transactions. The CCP key is never kept nor logged; a payment keeps the masked account.

Test accounts and failures: simulators/README.md. Run it:
``python -m sila_simulators khlass --port 8016``.
"""

from __future__ import annotations

import html
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sila_simulators.support import Faults, SimulatorSpec, base_argument_parser, health

MAX_CODE_ATTEMPTS = 3
# account number -> (key, balance in centimes, blocked)
ACCOUNTS: dict[str, tuple[str, int, bool]] = {
    "0000000001": ("01", 10**10, False),
    "0000000002": ("02", 100, False),  # insufficient funds
    "0000000003": ("03", 10**10, True),  # blocked account
}


@dataclass
class Payment:
    payment_id: str
    order_number: str
    amount: int
    return_url: str
    created: float
    status: str = "pending"
    reason: str | None = None
    account_masked: str | None = None
    code: str | None = None
    code_sent_at: float = 0.0
    attempts: int = 0
    refunded: int = 0


@dataclass
class Khlass:
    api_key: str = "sila-khlass-key"
    session_seconds: float = 600.0
    code_seconds: float = 120.0
    hang_seconds: float = 30.0
    payments: dict[str, Payment] = field(default_factory=dict)
    by_number: dict[str, str] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)
    faults: Faults = field(init=False)
    # The account a payment waiting for its code will debit (as the bank would); never its key.
    debited_accounts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.faults = Faults(self.hang_seconds, {"error": "internal"})

    def refresh(self, payment: Payment) -> None:
        now = time.monotonic()
        if payment.status == "pending" and now - payment.created > self.session_seconds:
            payment.status, payment.reason = "expired", "session_expired"
        if payment.status == "awaiting_code" and now - payment.code_sent_at > self.code_seconds:
            payment.status, payment.reason = "failed", "code_expired"

    def body(self, payment: Payment) -> dict[str, Any]:
        self.refresh(payment)
        return {
            "payment_id": payment.payment_id,
            "order_number": payment.order_number,
            "amount": payment.amount,
            "currency": "012",
            "status": payment.status,
            "reason": payment.reason,
            "account_masked": payment.account_masked,
            "refunded_amount": payment.refunded,
        }

    def give_account(self, payment: Payment, account: str, key: str) -> str | None:
        """Checks the account; on success a code is sent. Answers a failure reason or None."""
        self.refresh(payment)
        if payment.status != "pending":
            return payment.reason or payment.status
        known = ACCOUNTS.get(account)
        if known is None or known[0] != key:
            payment.status, payment.reason = "failed", "wrong_account_or_key"
            return payment.reason
        payment.account_masked = _mask(account)
        if known[2]:
            payment.status, payment.reason = "failed", "account_blocked"
            return payment.reason
        if self.balances[account] < payment.amount:
            payment.status, payment.reason = "failed", "insufficient_funds"
            return payment.reason
        payment.status = "awaiting_code"
        payment.code = f"{secrets.randbelow(10**6):06d}"
        payment.code_sent_at = time.monotonic()
        payment.attempts = 0
        self.debited_accounts[payment.payment_id] = account
        return None

    def give_code(self, payment: Payment, code: str) -> str | None:
        self.refresh(payment)
        if payment.status != "awaiting_code":
            return payment.reason or payment.status
        if not secrets.compare_digest(code, payment.code or ""):
            payment.attempts += 1
            if payment.attempts >= MAX_CODE_ATTEMPTS:
                payment.status, payment.reason = "failed", "wrong_code"
            return "wrong_code"
        account = self.debited_accounts.pop(payment.payment_id)
        self.balances[account] -= payment.amount
        payment.status, payment.reason, payment.code = "paid", None, None
        return None

    def refund(self, payment: Payment, amount: Any) -> JSONResponse | None:
        """Refunds ``amount`` of ``payment``; answers the refusal, or None once refunded."""
        self.refresh(payment)
        if payment.status not in ("paid", "partially_refunded"):
            return _problem(409, "payment not refundable")
        if not isinstance(amount, int) or amount <= 0 or amount > payment.amount - payment.refunded:
            return _problem(422, "amount above what may be refunded")
        payment.refunded += amount
        payment.status = "refunded" if payment.refunded == payment.amount else "partially_refunded"
        return None


def _mask(account: str) -> str:
    return "*" * (len(account) - 4) + account[-4:]


def _problem(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


def _new_payment_refusal(kh: Khlass, body: dict[str, Any]) -> JSONResponse | None:
    """Why a new payment is refused (the merchant's mistakes), or None."""
    number = str(body.get("order_number", ""))
    amount = body.get("amount")
    if not number or not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return _problem(422, "order_number and a positive integer amount are required")
    if str(body.get("currency", "012")) != "012" or not body.get("return_url"):
        return _problem(422, "currency 012 and return_url are required")
    if number in kh.by_number:
        return _problem(409, "order_number already used")
    return None


def _back(payment: Payment) -> str:
    joiner = "&" if "?" in payment.return_url else "?"
    return f"{payment.return_url}{joiner}{urlencode({'payment_id': payment.payment_id})}"


def _page_html(payment: Payment) -> str:
    pid = html.escape(payment.payment_id)
    if payment.status == "awaiting_code":
        form = f"""<form method="post" action="/pay/{pid}/code">
<label>Code reçu par SMS <input name="code"></label><button>Confirmer</button></form>"""
    else:
        form = f"""<form method="post" action="/pay/{pid}/account">
<label>Compte CCP <input name="account"></label><label>Clé <input name="key"></label>
<button>Recevoir le code</button></form>"""
    return f"""<!doctype html><meta charset="utf-8"><title>Khlass - خالص</title>
<h1>Payer {payment.amount / 100:.2f} DZD</h1><p>{html.escape(payment.status)}</p>{form}"""


UNKNOWN_PAYMENT_PAGE = "<h1>Paiement inconnu</h1>"


@dataclass
class _Routes:
    """Khlass over HTTP: the merchant API, the customer's pages and ``/_sim/*``."""

    kh: Khlass

    async def _merchant_call(self, request: Request, operation: str) -> Response | None:
        """A planned failure of ``operation``, or 401 for a wrong API key; None to go on."""
        if (failure := await self.kh.faults.failure(operation)) is not None:
            return failure
        if request.headers.get("authorization") != f"Bearer {self.kh.api_key}":
            return _problem(401, "unauthorised")
        return None

    async def create(self, request: Request) -> Response:
        kh = self.kh
        if (refusal := await self._merchant_call(request, "create")) is not None:
            return refusal
        body = await request.json()
        if (refusal := _new_payment_refusal(kh, body)) is not None:
            return refusal
        payment = Payment(
            payment_id=str(uuid.uuid4()),
            order_number=str(body["order_number"]),
            amount=body["amount"],
            return_url=str(body["return_url"]),
            created=time.monotonic(),
        )
        kh.payments[payment.payment_id] = payment
        kh.by_number[payment.order_number] = payment.payment_id
        base = str(request.base_url).rstrip("/")
        answer = kh.body(payment) | {"payment_url": f"{base}/pay/{payment.payment_id}"}
        return JSONResponse(answer, status_code=201)

    async def read(self, request: Request) -> Response:
        if (refusal := await self._merchant_call(request, "status")) is not None:
            return refusal
        payment = self.kh.payments.get(request.path_params["payment_id"])
        if payment is None:
            return _problem(404, "unknown payment")
        return JSONResponse(self.kh.body(payment))

    async def page(self, request: Request) -> Response:
        payment = self.kh.payments.get(request.path_params["payment_id"])
        if payment is None:
            return HTMLResponse(UNKNOWN_PAYMENT_PAGE, status_code=404)
        self.kh.refresh(payment)
        return HTMLResponse(_page_html(payment))

    async def page_account(self, request: Request) -> Response:
        payment = self.kh.payments.get(request.path_params["payment_id"])
        if payment is None:
            return HTMLResponse(UNKNOWN_PAYMENT_PAGE, status_code=404)
        form = await request.form()
        account, key = str(form.get("account", "")), str(form.get("key", ""))
        if self.kh.give_account(payment, account, key) is not None:
            return RedirectResponse(_back(payment), status_code=303)
        return RedirectResponse(f"/pay/{payment.payment_id}", status_code=303)

    async def page_code(self, request: Request) -> Response:
        payment = self.kh.payments.get(request.path_params["payment_id"])
        if payment is None:
            return HTMLResponse(UNKNOWN_PAYMENT_PAGE, status_code=404)
        form = await request.form()
        self.kh.give_code(payment, str(form.get("code", "")))
        if payment.status == "awaiting_code":
            return RedirectResponse(f"/pay/{payment.payment_id}", status_code=303)
        return RedirectResponse(_back(payment), status_code=303)

    async def refund(self, request: Request) -> Response:
        if (refusal := await self._merchant_call(request, "refund")) is not None:
            return refusal
        payment = self.kh.payments.get(request.path_params["payment_id"])
        if payment is None:
            return _problem(404, "unknown payment")
        body = await request.json()
        if (refusal := self.kh.refund(payment, body.get("amount"))) is not None:
            return refusal
        return JSONResponse(self.kh.body(payment), status_code=201)

    async def report(self, request: Request) -> Response:
        if (refusal := await self._merchant_call(request, "report")) is not None:
            return refusal
        return JSONResponse({"payments": [self.kh.body(p) for p in self.kh.payments.values()]})

    async def sim_pay(self, request: Request) -> Response:
        """The customer's steps in one call: account and key, then the code (or a given one)."""
        kh = self.kh
        body = await request.json()
        payment = kh.payments.get(str(body.get("payment_id", "")))
        if payment is None:
            return JSONResponse({"error": "unknown payment"}, status_code=404)
        if body.get("abandon"):
            return JSONResponse({"status": kh.body(payment)["status"]})
        if payment.status == "pending":
            kh.give_account(payment, str(body.get("account", "")), str(body.get("key", "")))
        if payment.status == "awaiting_code" and not body.get("stop_before_code"):
            for code in body.get("codes") or [payment.code or ""]:
                kh.give_code(payment, str(code))
        return JSONResponse({"status": kh.body(payment)["status"], "redirect": _back(payment)})

    async def sim_code(self, request: Request) -> Response:
        payment = self.kh.payments.get(request.path_params["payment_id"])
        if payment is None or payment.code is None:
            return JSONResponse({"error": "no code"}, status_code=404)
        return JSONResponse({"code": payment.code})


def create_app(khlass: Khlass | None = None) -> Starlette:
    kh = khlass or Khlass()
    for number, (_, balance, _) in ACCOUNTS.items():
        kh.balances.setdefault(number, balance)
    r = _Routes(kh)
    return Starlette(
        routes=[
            Route("/api/v1/payments", r.create, methods=["POST"]),
            Route("/api/v1/payments/{payment_id}", r.read, methods=["GET"]),
            Route("/api/v1/payments/{payment_id}/refunds", r.refund, methods=["POST"]),
            Route("/api/v1/report", r.report, methods=["GET"]),
            Route("/pay/{payment_id}", r.page, methods=["GET"]),
            Route("/pay/{payment_id}/account", r.page_account, methods=["POST"]),
            Route("/pay/{payment_id}/code", r.page_code, methods=["POST"]),
            Route("/_sim/pay", r.sim_pay, methods=["POST"]),
            Route("/_sim/codes/{payment_id}", r.sim_code, methods=["GET"]),
            Route("/_sim/faults", kh.faults.plan, methods=["POST"]),
            Route("/_sim/health", health, methods=["GET"]),
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = base_argument_parser("Khlass (CCP) payment simulator", 8016)
    parser.add_argument("--api-key", default="sila-khlass-key")
    parser.add_argument("--session-seconds", type=float, default=600.0)
    parser.add_argument("--code-seconds", type=float, default=120.0)
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    khlass = Khlass(
        api_key=args.api_key,
        session_seconds=args.session_seconds,
        code_seconds=args.code_seconds,
        hang_seconds=args.hang_seconds,
    )
    uvicorn.run(create_app(khlass), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()


SIMULATOR = SimulatorSpec(
    name="khlass",
    summary="Khlass: payment from an Algérie Poste CCP account with a one-time code",
    main=main,
    ports={"port": 16},
    service_env=lambda ports: {"SILA_BILLING_KHLASS_URL": f"http://127.0.0.1:{ports['port']}"},
    inbox=False,
)
