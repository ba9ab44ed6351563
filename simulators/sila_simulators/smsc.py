"""An SMS centre stand-in speaking Kannel's HTTP send-SMS interface, with delivery reports.

`GET /cgi-bin/sendsms` answers with Kannel's own status codes and texts, then calls the
`dlr-url` (with Kannel's %-escapes expanded) for each report type the `dlr-mask` asks for.
Destinations steer the outcome: by default a number ending in 0000 fails permanently, one
ending in 9999 is refused with a temporary failure its first attempts. `GET /_sim/messages`
lists what was accepted (with the delivery reports sent), `DELETE /_sim/messages` forgets it,
`GET /_sim/inbox` lists it for the message viewer.

Beyond Kannel: a request carrying `msg-id` (an aggregator's client reference) is accepted once
per receiver; a repeat answers "Accepted" again and sends nothing, as a deduplicating SMS
aggregator does, so a sender that crashed between sending and recording can safely resend.

Run it with `python -m sila_simulators smsc --port 8013`.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import quote

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sila_notify.domain.sms import count_sms
from sila_simulators.support import (
    InboxEntry,
    SimulatorSpec,
    SlidingWindowLimit,
    TemporaryFailures,
    base_argument_parser,
    run,
)

# Kannel's dlr-mask bits, which are also the values of %d.
DLR_DELIVERED: Final = 1
DLR_FAILED: Final = 2
DLR_BUFFERED: Final = 4
DLR_SMSC_SUBMIT: Final = 8
DLR_SMSC_REJECT: Final = 16

# Kannel's `sendsms-chars` default: anything else in `to` denies that number.
SENDSMS_NUMBER_CHARS: Final = frozenset("0123456789 +-")

ACCEPTED: Final = "0: Accepted for delivery"
TEMPORARY_FAILURE: Final = "Temporal failure, try again later."
AUTHORIZATION_FAILED: Final = "Authorization failed for sendsms"
MISSING_RECEIVER: Final = "Missing receiver number, rejected"
EMPTY_RECEIVER: Final = "Empty receiver number not allowed, rejected"
NUMBERS_DENIED: Final = "Number(s) has/have been denied by white- and/or black-lists."
SENDER_MISSING: Final = "Sender missing and no global set, rejected"
DLR_MASK_MISFORMED: Final = "DLR-Mask field misformed, rejected"
DLR_URL_MISFORMED: Final = "DLR-URL field misformed, rejected"
CODING_MISFORMED: Final = "Coding field misformed, rejected"

SMSC_REJECT_ANSWER: Final = "NACK/0x0000000b/Invalid Destination Address"

PermanentFailureKind = Literal["undeliverable", "smsc_reject"]


@dataclass(frozen=True, slots=True)
class SmscSimulatorConfig:
    username: str = "sila"
    password: str = "sila"  # noqa: S105 - a simulator's well-known default
    # Kannel's `global-sender`: used when a request has no `from`.
    global_sender: str | None = None
    smsc_id: str = "sim"
    dlr_delay_seconds: float = 0.05
    permanent_failure_suffix: str = "0000"
    # "undeliverable": the SMSC takes it (8) and the network reports it failed (2);
    # "smsc_reject": the SMSC refuses it outright (16).
    permanent_failure_kind: PermanentFailureKind = "undeliverable"
    temporary_failure_suffix: str = "9999"
    temporary_failures_before_success: int = 2
    # Above this many accepted requests per period, requests get 503.
    throttle_max_requests: int | None = None
    throttle_period_seconds: float = 1.0


@dataclass(frozen=True, slots=True)
class _PlannedReport:
    dlr_type: int
    smsc_answer: str


@dataclass(frozen=True, slots=True)
class DeliveryReportAttempt:
    dlr_type: int
    url: str
    http_status: int | None = None
    error: str | None = None


@dataclass(slots=True)
class ReceivedSms:
    """One accepted message, per receiver, and the delivery reports sent about it so far."""

    id: str
    foreign_id: str
    sender: str
    to: str
    text: str
    coding: int | None
    charset: str | None
    dlr_mask: int
    dlr_url: str
    received_at: datetime
    encoding: str
    segments: int
    # Sent as 7-bit, a text outside the GSM alphabet reaches the handset mangled.
    lossy: bool
    dlrs: list[DeliveryReportAttempt] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "foreign_id": self.foreign_id,
            "from": self.sender,
            "to": self.to,
            "text": self.text,
            "coding": self.coding,
            "charset": self.charset,
            "dlr_mask": self.dlr_mask,
            "dlr_url": self.dlr_url,
            "received_at": self.received_at.isoformat(),
            "encoding": self.encoding,
            "segments": self.segments,
            "lossy": self.lossy,
            "dlrs": [
                {"type": d.dlr_type, "url": d.url, "http_status": d.http_status, "error": d.error}
                for d in self.dlrs
            ],
        }


DLR_CONNECTIONS = 16


@dataclass
class _SmscState:
    config: SmscSimulatorConfig
    throttle: SlidingWindowLimit
    temporary_failures: TemporaryFailures
    messages: list[ReceivedSms] = field(default_factory=list)
    # (client reference, receiver) pairs already accepted.
    client_references: set[tuple[str, str]] = field(default_factory=set)
    duplicates: int = 0
    deliveries: set[asyncio.Task[None]] = field(default_factory=set)
    # Reports go out as Kannel sends them, one GET per report, on up to 16 kept-alive
    # connections. aiohttp rather than httpx: a burst's reports were most of the simulator's
    # CPU (httpx's request building and pool bookkeeping; docs/benchmarks.md, "Fourth pass").
    session: aiohttp.ClientSession | None = None

    async def report(self, url: str) -> int:
        """Send one delivery report; the callback's HTTP status."""
        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=DLR_CONNECTIONS),
                # Per step, not in total: a burst's reports queue for the 16 connections,
                # and that wait is the SMS centre's own, not the callback's slowness.
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=5.0, sock_read=5.0),
            )
        async with self.session.get(url) as response:
            await response.read()
            return response.status

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


def _answer(status_code: int, text: str) -> Response:
    # Kannel answers sendsms with text/html whatever the outcome.
    return PlainTextResponse(text, status_code=status_code, media_type="text/html")


def _first(params: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        if name in params:
            return params[name]
    return None


def _int_param(params: Mapping[str, str], *names: str) -> int | Literal["invalid"] | None:
    raw = _first(params, *names)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        return "invalid"


def expand_dlr_url(template: str, fields: Mapping[str, str]) -> str:
    """Kannel's %-escapes replaced by URL-encoded values; `%%` is a percent, unknown ones stay."""
    expanded: list[str] = []
    position = 0
    while position < len(template):
        char = template[position]
        code = template[position + 1] if position + 1 < len(template) else ""
        if char == "%" and code == "%":
            expanded.append("%")
            position += 2
        elif char == "%" and code in fields:
            expanded.append(quote(fields[code], safe=""))
            position += 2
        else:
            expanded.append(char)
            position += 1
    return "".join(expanded)


def _smpp_receipt(message: ReceivedSms, status: str, error: str, delivered: int) -> str:
    stamp = datetime.now(UTC).strftime("%y%m%d%H%M")
    return (
        f"id:{message.foreign_id} sub:001 dlvrd:{delivered:03d} submit date:{stamp} "
        f"done date:{stamp} stat:{status} err:{error} text:{message.text[:20]}"
    )


def _plan_reports(config: SmscSimulatorConfig, message: ReceivedSms) -> list[_PlannedReport]:
    if message.to.endswith(config.permanent_failure_suffix):
        if config.permanent_failure_kind == "smsc_reject":
            plan = [_PlannedReport(DLR_SMSC_REJECT, SMSC_REJECT_ANSWER)]
        else:
            plan = [
                _PlannedReport(DLR_SMSC_SUBMIT, "ACK/"),
                _PlannedReport(DLR_FAILED, _smpp_receipt(message, "UNDELIV", "001", 0)),
            ]
    else:
        plan = [
            _PlannedReport(DLR_SMSC_SUBMIT, "ACK/"),
            _PlannedReport(DLR_DELIVERED, _smpp_receipt(message, "DELIVRD", "000", 1)),
        ]
    return [report for report in plan if message.dlr_mask & report.dlr_type]


def _dlr_fields(
    config: SmscSimulatorConfig, message: ReceivedSms, report: _PlannedReport
) -> dict[str, str]:
    now = datetime.now(UTC)

    def plus_for_00(number: str) -> str:
        return "+" + number[2:] if number.startswith("00") else number

    # In a report the roles swap, as in Kannel: %p is the handset, %P the original sender.
    return {
        "d": str(report.dlr_type),
        "A": report.smsc_answer,
        "p": message.to,
        "P": message.sender,
        "q": plus_for_00(message.to),
        "Q": plus_for_00(message.sender),
        "I": message.id,
        "F": message.foreign_id,
        "i": config.smsc_id,
        "n": config.username,
        "T": str(int(now.timestamp())),
        "t": now.strftime("%Y-%m-%d %H:%M"),
        "c": str(message.coding if message.coding is not None else 0),
        "a": message.text,
        "b": message.text,
    }


async def _deliver_reports(state: _SmscState, message: ReceivedSms) -> None:
    for report in _plan_reports(state.config, message):
        await asyncio.sleep(state.config.dlr_delay_seconds)
        url = expand_dlr_url(message.dlr_url, _dlr_fields(state.config, message, report))
        try:
            status = await state.report(url)
        except (aiohttp.ClientError, TimeoutError) as error:
            attempt = DeliveryReportAttempt(report.dlr_type, url, error=repr(error))
        else:
            attempt = DeliveryReportAttempt(report.dlr_type, url, http_status=status)
        message.dlrs.append(attempt)


def _schedule_reports(state: _SmscState, message: ReceivedSms) -> None:
    if not message.dlr_url or not message.dlr_mask:
        return
    task = asyncio.get_running_loop().create_task(_deliver_reports(state, message))
    state.deliveries.add(task)
    task.add_done_callback(state.deliveries.discard)


def _denied(number: str) -> bool:
    return not set(number) <= SENDSMS_NUMBER_CHARS


def _validate_fields(params: Mapping[str, str]) -> str | None:
    """Kannel's first objection to the optional fields, if any."""
    dlr_mask = _int_param(params, "dlr-mask", "dlrmask")
    if dlr_mask == "invalid" or (dlr_mask is not None and not -1 <= dlr_mask <= 63):
        return DLR_MASK_MISFORMED
    dlr_url = _first(params, "dlr-url", "dlrurl") or ""
    if dlr_url and not dlr_url.lower().startswith(("http://", "https://")):
        return DLR_URL_MISFORMED
    coding = _int_param(params, "coding")
    if coding == "invalid" or (coding is not None and not -1 <= coding <= 2):
        return CODING_MISFORMED
    return None


def _receivers(params: Mapping[str, str]) -> tuple[list[str], str | None]:
    """The distinct numbers of ``to``, or Kannel's objection to it."""
    to = params.get("to")
    if to is None:
        return [], MISSING_RECEIVER
    if to == "":
        return [], EMPTY_RECEIVER
    receivers = list(dict.fromkeys(to.split()))
    if all(_denied(number) for number in receivers):
        return receivers, NUMBERS_DENIED
    return receivers, None


def _still_failing(state: _SmscState, numbers: list[str]) -> bool:
    """A request with any number still in its temporary-failure phase is refused whole, so a
    retry of the same request is the right reaction, as with a real temporary failure."""
    flaky = [n for n in numbers if n.endswith(state.config.temporary_failure_suffix)]
    # Every flaky number's attempt counts, hence no short-circuit.
    failing = [state.temporary_failures.should_fail(number) for number in flaky]
    return any(failing)


def _fresh_receivers(state: _SmscState, reference: str, numbers: list[str]) -> list[str]:
    """The numbers not yet sent this client reference (an aggregator's deduplication)."""
    if not reference:
        return numbers
    fresh = [n for n in numbers if (reference, n) not in state.client_references]
    state.duplicates += len(numbers) - len(fresh)
    state.client_references.update((reference, n) for n in fresh)
    return fresh


def _accept(state: _SmscState, params: Mapping[str, str], sender: str, numbers: list[str]) -> None:
    """Keep one message per receiver and schedule the delivery reports it asked for."""
    text = params.get("text", "")
    coding = _int_param(params, "coding")
    dlr_mask = _int_param(params, "dlr-mask", "dlrmask")
    sms_count = count_sms(text)
    for number in numbers:
        message = ReceivedSms(
            id=str(uuid.uuid4()),
            foreign_id=uuid.uuid4().hex[:16],
            sender=sender,
            to=number,
            text=text,
            coding=coding if isinstance(coding, int) else None,
            charset=params.get("charset"),
            dlr_mask=dlr_mask if isinstance(dlr_mask, int) and dlr_mask > 0 else 0,
            dlr_url=_first(params, "dlr-url", "dlrurl") or "",
            received_at=datetime.now(UTC),
            encoding=sms_count.encoding,
            segments=sms_count.segments,
            lossy=sms_count.encoding == "UCS-2" and coding != 2,
        )
        state.messages.append(message)
        _schedule_reports(state, message)


async def _send_sms(request: Request) -> Response:
    """Kannel's checks in Kannel's order: credentials, receivers, sender, optional fields;
    then the SMS centre's own refusals (temporary failures, throttling); then acceptance."""
    state: _SmscState = request.app.state.smsc
    config = state.config
    params = request.query_params
    username = _first(params, "username", "user")
    password = _first(params, "password", "pass")
    if username != config.username or password != config.password:
        return _answer(403, AUTHORIZATION_FAILED)
    receivers, objection = _receivers(params)
    sender = params.get("from") or config.global_sender or ""
    if objection is None and not sender:
        objection = SENDER_MISSING
    objection = objection or _validate_fields(params)
    if objection is not None:
        return _answer(400, objection)

    allowed = [number for number in receivers if not _denied(number)]
    if _still_failing(state, allowed) or not state.throttle.try_acquire():
        return _answer(503, TEMPORARY_FAILURE)
    fresh = _fresh_receivers(state, params.get("msg-id") or "", allowed)
    if not fresh:  # every receiver already had this client reference
        return _answer(202, ACCEPTED)
    _accept(state, params, sender, fresh)
    denied = [number for number in receivers if _denied(number)]
    suffix = (" Denied receivers are: " + " ".join(denied)) if denied else ""
    return _answer(202, ACCEPTED + suffix)


async def _list_messages(request: Request) -> Response:
    state: _SmscState = request.app.state.smsc
    return JSONResponse([message.as_json() for message in state.messages])


async def _inbox(request: Request) -> Response:
    state: _SmscState = request.app.state.smsc
    return JSONResponse([_inbox_entry(message).as_json() for message in state.messages])


def _inbox_entry(message: ReceivedSms) -> InboxEntry:
    reports = [d for d in message.dlrs if d.dlr_type in (DLR_DELIVERED, DLR_FAILED)]
    status = "delivered" if any(d.dlr_type == DLR_DELIVERED for d in reports) else None
    if any(d.dlr_type == DLR_FAILED for d in reports):
        status = "failed"
    return InboxEntry(
        id=message.id,
        channel="sms",
        to=message.to,
        sender=message.sender,
        subject=None,
        text=message.text,
        received_at=message.received_at,
        status=status or "accepted",
    )


async def _reset(request: Request) -> Response:
    state: _SmscState = request.app.state.smsc
    state.messages.clear()
    state.client_references.clear()
    state.duplicates = 0
    state.temporary_failures.reset()
    state.throttle.reset()
    return Response(status_code=204)


def create_smsc_app(config: SmscSimulatorConfig | None = None) -> Starlette:
    config = config or SmscSimulatorConfig()
    state = _SmscState(
        config=config,
        throttle=SlidingWindowLimit(config.throttle_max_requests, config.throttle_period_seconds),
        temporary_failures=TemporaryFailures(config.temporary_failures_before_success),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for task in list(state.deliveries):
            task.cancel()
        await asyncio.gather(*state.deliveries, return_exceptions=True)
        await state.close()

    app = Starlette(
        routes=[
            Route("/cgi-bin/sendsms", _send_sms, methods=["GET"]),
            Route("/_sim/messages", _list_messages, methods=["GET"]),
            Route("/_sim/messages", _reset, methods=["DELETE"]),
            Route("/_sim/inbox", _inbox, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.smsc = state
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = base_argument_parser("Kannel-compatible SMS centre simulator", 8013)
    defaults = SmscSimulatorConfig()
    parser.add_argument("--username", default=defaults.username)
    parser.add_argument("--password", default=defaults.password)
    parser.add_argument("--global-sender", default=defaults.global_sender)
    parser.add_argument("--dlr-delay", type=float, default=defaults.dlr_delay_seconds)
    parser.add_argument(
        "--permanent-failure-kind",
        choices=["undeliverable", "smsc_reject"],
        default=defaults.permanent_failure_kind,
    )
    parser.add_argument(
        "--temporary-failures", type=int, default=defaults.temporary_failures_before_success
    )
    parser.add_argument("--throttle", type=int, default=None, help="max requests per second")
    args = parser.parse_args(argv)
    config = SmscSimulatorConfig(
        username=args.username,
        password=args.password,
        global_sender=args.global_sender,
        dlr_delay_seconds=args.dlr_delay,
        permanent_failure_kind=args.permanent_failure_kind,
        temporary_failures_before_success=args.temporary_failures,
        throttle_max_requests=args.throttle,
    )
    run(create_smsc_app(config), args.host, args.port)


SIMULATOR = SimulatorSpec(
    name="smsc",
    summary="SMS centre (Kannel HTTP sendsms, delivery reports)",
    main=main,
    ports={"port": 13},
    service_env=lambda ports: {
        "SILA_NOTIFY_SMS_URL": f"http://127.0.0.1:{ports['port']}/cgi-bin/sendsms"
    },
)
