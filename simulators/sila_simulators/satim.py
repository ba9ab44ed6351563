"""A SATIM-compatible e-payment gateway (CIB and Edahabia cards), for development and tests.

It speaks the merchant API of SATIM's gateway (the BPC RBS ``/payment/rest/`` interface):
``register.do`` (userName, password, orderNumber, amount in centimes, currency 012,
returnUrl, failUrl, language, jsonParams) answers ``orderId`` and ``formUrl``; the customer
types the card on the gateway's page (never on the merchant's) and is sent back to returnUrl
or failUrl with ``orderId``; the merchant then confirms server-side with
``public/acknowledgeTransaction.do`` or ``getOrderStatus.do`` (ErrorCode, OrderStatus 0/2/3/4/6,
actionCode, params.respCode, the masked Pan) and refunds with ``refund.do``.

What a test card does is in simulators/README.md. ``/_sim/*`` is the simulator's own:
``POST /_sim/faults`` makes the next calls of an operation fail with a 5xx or hang,
``POST /_sim/pay`` pays a page as a customer would (for tests and scripts),
``GET /_sim/report`` is the day's transactions (SATIM's settlement file, as JSON).
Card numbers are never logged nor kept: an order keeps the masked PAN only.

Run it: ``python -m sila_simulators satim --port 8015``.
"""

from __future__ import annotations

import html
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sila_simulators.support import Faults, SimulatorSpec, base_argument_parser, health

log = logging.getLogger("sila_simulators.satim")

CURRENCY = "012"
# Test cards: the last four digits choose the outcome (README).
CARD_OUTCOMES: dict[str, tuple[str, int, str]] = {
    # suffix: (respCode, actionCode, description)
    "0001": ("00", 0, "Approved"),
    "0002": ("51", 116, "Insufficient funds"),
    "0003": ("62", 2003, "Card blocked"),
    "0004": ("54", 101, "Expired card"),
    "0005": ("55", 2005, "Wrong secret code"),
    "0007": ("00", 0, "Approved (confirmation late)"),
}
SESSION_EXPIRED = ("", -2007, "Payment session expired")


@dataclass
class Order:
    order_id: str
    order_number: str
    amount: int
    return_url: str
    fail_url: str
    language: str
    json_params: dict[str, Any]
    created: float
    status: int = 0
    resp_code: str = ""
    action_code: int = 0
    description: str = ""
    pan: str | None = None
    approval_code: str | None = None
    deposited: int = 0
    refunded: int = 0
    paid_at: float | None = None
    # The late card: reported as 5 (3-D Secure under way) until then.
    settles_at: float | None = None
    acknowledged: bool = False


@dataclass
class Gateway:
    username: str = "sila"
    password: str = "sila-secret"  # noqa: S105 (the simulator's test merchant)
    session_seconds: float = 600.0
    late_seconds: float = 3.0
    hang_seconds: float = 30.0
    orders: dict[str, Order] = field(default_factory=dict)
    by_number: dict[str, str] = field(default_factory=dict)
    faults: Faults = field(init=False)
    calls: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.faults = Faults(self.hang_seconds, {"error": "Internal Server Error"})

    def refresh(self, order: Order) -> None:
        now = time.monotonic()
        if order.status == 0 and now - order.created > self.session_seconds:
            order.status = 6
            order.resp_code, order.action_code, order.description = SESSION_EXPIRED
        if order.status == 5 and order.settles_at is not None and now >= order.settles_at:
            order.status = 2

    async def fault(self, operation: str) -> Response | None:
        """Counts a call of ``operation``; answers its planned failure, if any."""
        self.calls[operation] = self.calls.get(operation, 0) + 1
        return await self.faults.failure(operation)

    def authorised(self, params: dict[str, str]) -> bool:
        return params.get("userName") == self.username and params.get("password") == (self.password)

    def settle(self, order: Order, p: dict[str, str]) -> str:
        """Pays or declines ``order`` with the card in ``p``; answers where to send the customer."""
        self.refresh(order)
        if order.status != 0:
            return order.fail_url if order.status == 6 else order.return_url
        if p.get("cancel"):
            order.status = 6
            order.resp_code, order.action_code, order.description = ("", -2006, "Cancelled")
            return order.fail_url
        pan = "".join(c for c in p.get("pan", "") if c.isdigit())
        if len(pan) not in (16, 19):
            order.status = 6
            order.resp_code, order.action_code, order.description = ("14", 2001, "Invalid card")
            return order.fail_url
        order.pan = _mask(pan)
        resp, action, description = _card_outcome(pan, p.get("expiry", ""))
        order.resp_code, order.action_code, order.description = resp, action, description
        if resp != "00":
            order.status = 6
            return order.fail_url
        order.deposited = order.amount
        order.approval_code = uuid.uuid4().hex[:6].upper()
        order.paid_at = time.time()
        if pan.endswith("0007"):
            order.status = 5
            order.settles_at = time.monotonic() + self.late_seconds
        else:
            order.status = 2
        return order.return_url

    def reset(self) -> None:
        self.orders.clear()
        self.by_number.clear()
        self.faults.planned.clear()
        self.calls.clear()


def _mask(pan: str) -> str:
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


def _card_outcome(pan: str, expiry: str) -> tuple[str, int, str]:
    """(respCode, actionCode, description) for a card: its last four digits, then its expiry."""
    outcome = CARD_OUTCOMES.get(pan[-4:], ("05", 2000, "Do not honour"))
    if outcome[0] == "00" and len(expiry) == 4 and expiry.isdigit():
        month, year = int(expiry[:2]), 2000 + int(expiry[2:])
        today = datetime.now(UTC)
        if (year, month) < (today.year, today.month):
            return CARD_OUTCOMES["0004"]
    return outcome


async def _params(request: Request) -> dict[str, str]:
    values = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        values.update({k: str(v) for k, v in form.items()})
    return values


def _error(code: str, message: str) -> JSONResponse:
    return JSONResponse({"errorCode": code, "errorMessage": message})


def _register_refusal(gw: Gateway, p: dict[str, str]) -> JSONResponse | None:
    """Why ``register.do`` refuses these parameters (SATIM's errorCode), or None."""
    if not gw.authorised(p):
        return _error("5", "Access denied")
    number = p.get("orderNumber", "")
    if not number or len(number) > 32:
        return _error("1", "Order number is empty or too long")
    if number in gw.by_number:
        return _error("1", "Order with this number was already processed")
    amount = p.get("amount", "")
    if not _is_int(amount) or int(amount) <= 0:
        return _error("4", "Amount is invalid")
    if p.get("currency", CURRENCY) != CURRENCY:
        return _error("7", "Currency is invalid")
    if not p.get("returnUrl"):
        return _error("4", "Return URL is empty")
    return None


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _back_to_merchant(url: str, order: Order) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}{urlencode({'orderId': order.order_id})}"


def _status_body(order: Order) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ErrorCode": "0",
        "ErrorMessage": "Success",
        "OrderStatus": order.status,
        "OrderNumber": order.order_number,
        "Amount": order.amount,
        "currency": CURRENCY,
        "actionCode": order.action_code,
        "actionCodeDescription": order.description,
        "depositAmount": order.deposited,
        "params": {
            "respCode": order.resp_code,
            "respCode_desc": order.description,
            **{k: str(v) for k, v in order.json_params.items()},
        },
    }
    if order.pan:
        body["Pan"] = order.pan
    if order.approval_code:
        body["approvalCode"] = order.approval_code
    return body


def _page_html(order: Order) -> str:
    oid = html.escape(order.order_id)
    return f"""<!doctype html><html lang="{html.escape(order.language)}"><meta charset="utf-8">
<title>SATIM - paiement</title><h1>Paiement de {order.amount / 100:.2f} DZD</h1>
<p>Commande {html.escape(order.order_number)}</p>
<form method="post" action="/payment/rest/processform.do">
<input type="hidden" name="mdOrder" value="{oid}">
<label>Numéro de carte <input name="pan" autocomplete="cc-number"></label>
<label>Expiration (MMAA) <input name="expiry"></label>
<label>CVV2 <input name="cvv2"></label>
<label>Titulaire <input name="cardholder"></label>
<label>Code secret <input name="secret" type="password"></label>
<button>Payer</button></form>
<form method="post" action="/payment/rest/processform.do"><input type="hidden" name="mdOrder"
value="{oid}"><input type="hidden" name="cancel" value="1"><button>Annuler</button></form>"""


UNKNOWN_ORDER_PAGE = "<h1>Commande inconnue</h1>"


@dataclass
class _Routes:
    """The gateway's HTTP face: SATIM's merchant API, its payment page and ``/_sim/*``."""

    gw: Gateway

    async def register(self, request: Request) -> Response:
        gw = self.gw
        if (failure := await gw.fault("register")) is not None:
            return failure
        p = await _params(request)
        if (refusal := _register_refusal(gw, p)) is not None:
            return refusal
        try:
            json_params = json.loads(p.get("jsonParams") or "{}")
        except ValueError:
            return _error("4", "jsonParams is not JSON")
        order = Order(
            order_id=str(uuid.uuid4()),
            order_number=p["orderNumber"],
            amount=int(p["amount"]),
            return_url=p["returnUrl"],
            fail_url=p.get("failUrl") or p["returnUrl"],
            language=p.get("language", "fr"),
            json_params=json_params if isinstance(json_params, dict) else {},
            created=time.monotonic(),
        )
        gw.orders[order.order_id] = order
        gw.by_number[order.order_number] = order.order_id
        base = str(request.base_url).rstrip("/")
        form_url = f"{base}/payment/merchants/sila/payment_{order.language}.html?" + urlencode(
            {"mdOrder": order.order_id}
        )
        return JSONResponse({"orderId": order.order_id, "formUrl": form_url, "errorCode": "0"})

    async def page(self, request: Request) -> Response:
        order = self.gw.orders.get(request.query_params.get("mdOrder", ""))
        if order is None:
            return HTMLResponse(UNKNOWN_ORDER_PAGE, status_code=404)
        self.gw.refresh(order)
        return HTMLResponse(_page_html(order))

    async def process_form(self, request: Request) -> Response:
        p = await _params(request)
        order = self.gw.orders.get(p.get("mdOrder", ""))
        if order is None:
            return HTMLResponse(UNKNOWN_ORDER_PAGE, status_code=404)
        target = self.gw.settle(order, p)
        return RedirectResponse(_back_to_merchant(target, order), status_code=303)

    async def _order_status(self, request: Request, operation: str, key: str) -> Response:
        gw = self.gw
        if (failure := await gw.fault(operation)) is not None:
            return failure
        p = await _params(request)
        if not gw.authorised(p):
            return JSONResponse({"ErrorCode": "5", "ErrorMessage": "Access denied"})
        order = gw.orders.get(p.get(key, "") or p.get("orderId", ""))
        if order is None:
            return JSONResponse({"ErrorCode": "6", "ErrorMessage": "Unknown order"})
        if operation == "acknowledge":
            order.acknowledged = True
        gw.refresh(order)
        return JSONResponse(_status_body(order))

    async def acknowledge(self, request: Request) -> Response:
        return await self._order_status(request, "acknowledge", "mdOrder")

    async def get_order_status(self, request: Request) -> Response:
        return await self._order_status(request, "status", "orderId")

    async def refund(self, request: Request) -> Response:
        gw = self.gw
        if (failure := await gw.fault("refund")) is not None:
            return failure
        p = await _params(request)
        if not gw.authorised(p):
            return _error("5", "Access denied")
        order = gw.orders.get(p.get("orderId", ""))
        if order is None:
            return _error("6", "Unknown order")
        gw.refresh(order)
        if not _is_int(p.get("amount", "")):
            return _error("4", "Amount is invalid")
        amount = int(p["amount"])
        if order.status not in (2, 4) or amount <= 0:
            return _error("7", "Payment must be in a correct state")
        if amount > order.deposited - order.refunded:
            return _error("7", "Refund amount exceeds deposited amount")
        order.refunded += amount
        if order.refunded == order.deposited:
            order.status = 4
        return _error("0", "Success")

    async def report(self, request: Request) -> Response:
        if (failure := await self.gw.fault("report")) is not None:
            return failure
        rows = []
        for order in self.gw.orders.values():
            self.gw.refresh(order)
            rows.append(
                {
                    "orderId": order.order_id,
                    "orderNumber": order.order_number,
                    "amount": order.amount,
                    "OrderStatus": order.status,
                    "depositAmount": order.deposited,
                    "refundedAmount": order.refunded,
                    "Pan": order.pan,
                }
            )
        return JSONResponse({"orders": rows})

    async def pay(self, request: Request) -> Response:
        """Pays an order's page as the customer's browser would, answering where it was sent."""
        body = await request.json()
        order = self.gw.orders.get(str(body.get("orderId", "")))
        if order is None:
            return JSONResponse({"error": "unknown order"}, status_code=404)
        target = self.gw.settle(order, {k: str(v) for k, v in body.items()})
        if "deposit" in body and order.deposited:
            # The acquirer settled another amount than the one authorised (a capture error).
            order.deposited = int(body["deposit"])
        return JSONResponse({"redirect": _back_to_merchant(target, order)})

    async def reverse(self, request: Request) -> Response:
        """The bank reverses a paid order afterwards (a chargeback): nothing stays deposited."""
        body = await request.json()
        order = self.gw.orders.get(str(body.get("orderId", "")))
        if order is None:
            return JSONResponse({"error": "unknown order"}, status_code=404)
        order.status, order.deposited = 3, 0
        return JSONResponse({"OrderStatus": order.status})

    async def reset(self, request: Request) -> Response:
        self.gw.reset()
        return Response(status_code=204)

    async def calls(self, request: Request) -> Response:
        return JSONResponse(self.gw.calls)


def create_app(gateway: Gateway | None = None) -> Starlette:
    gw = gateway or Gateway()
    r = _Routes(gw)
    methods = ["GET", "POST"]
    return Starlette(
        routes=[
            Route("/payment/rest/register.do", r.register, methods=methods),
            Route("/payment/merchants/{merchant}/{page}", r.page, methods=["GET"]),
            Route("/payment/rest/processform.do", r.process_form, methods=["POST"]),
            Route("/payment/rest/public/acknowledgeTransaction.do", r.acknowledge, methods=methods),
            Route("/payment/rest/getOrderStatus.do", r.get_order_status, methods=methods),
            Route("/payment/rest/refund.do", r.refund, methods=methods),
            Route("/_sim/report", r.report, methods=["GET"]),
            Route("/_sim/faults", gw.faults.plan, methods=["POST"]),
            Route("/_sim/pay", r.pay, methods=["POST"]),
            Route("/_sim/reverse", r.reverse, methods=["POST"]),
            Route("/_sim/reset", r.reset, methods=["POST"]),
            Route("/_sim/calls", r.calls, methods=["GET"]),
            Route("/_sim/health", health, methods=["GET"]),
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = base_argument_parser("SATIM-compatible payment gateway simulator", 8015)
    parser.add_argument("--username", default="sila")
    parser.add_argument("--password", default="sila-secret")
    parser.add_argument("--session-seconds", type=float, default=600.0)
    parser.add_argument("--late-seconds", type=float, default=3.0)
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    gateway = Gateway(
        username=args.username,
        password=args.password,
        session_seconds=args.session_seconds,
        late_seconds=args.late_seconds,
        hang_seconds=args.hang_seconds,
    )
    uvicorn.run(create_app(gateway), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()


SIMULATOR = SimulatorSpec(
    name="satim",
    summary="SATIM e-payment gateway (CIB and Edahabia cards)",
    main=main,
    ports={"port": 15},
    service_env=lambda ports: {"SILA_BILLING_SATIM_URL": f"http://127.0.0.1:{ports['port']}"},
    inbox=False,
)
