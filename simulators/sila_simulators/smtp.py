"""A mail server stand-in: an SMTP sink (aiosmtpd) that keeps every message it accepts.

Recipients steer the outcome, as with the other simulators: an address starting "bounce" is
refused permanently (550), one starting "later" deferred (451); every other one is accepted.
Its HTTP side lists what it kept: `GET /_sim/messages` (the parsed messages),
`DELETE /_sim/messages` forgets them, `GET /_sim/inbox` lists them for the message viewer.

Run it with `python -m sila_simulators smtp --smtp-port 8025 --port 8026`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.header
import email.policy
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sila_simulators.support import InboxEntry, SimulatorSpec, base_argument_parser, run


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    id: str
    sender: str
    to: list[str]
    subject: str
    message_id: str | None
    body: str
    received_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.sender,
            "to": self.to,
            "subject": self.subject,
            "message_id": self.message_id,
            "body": self.body,
            "received_at": self.received_at.isoformat(),
        }

    def inbox_entries(self) -> list[InboxEntry]:
        return [
            InboxEntry(
                id=f"{self.id}:{address}",
                channel="email",
                to=address,
                sender=self.sender,
                subject=self.subject,
                text=self.body,
                received_at=self.received_at,
                status="accepted",
            )
            for address in self.to
        ]


def _text_of(message: EmailMessage) -> str:
    """The plain-text body (the HTML part's text when there is no plain one)."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""


@dataclass
class SmtpSink:
    """The aiosmtpd handler: the steering by recipient, and what was accepted."""

    messages: list[ReceivedMail] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 No such mailbox"
        if address.startswith("later"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(
            ReceivedMail(
                id=str(uuid.uuid4()),
                sender=str(envelope.mail_from or ""),
                to=list(envelope.rcpt_tos),
                subject=str(parsed["Subject"] or ""),
                message_id=parsed["Message-ID"],
                body=_text_of(parsed),
                received_at=datetime.now(UTC),
            )
        )
        return "250 Message accepted"

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.messages if address in m.to]


def create_smtp_app(sink: SmtpSink, smtp_host: str, smtp_port: int) -> Starlette:
    """The HTTP listing, whose lifespan also runs the SMTP server on the same event loop."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(sink, hostname="sila-smtp-sink"), host=smtp_host, port=smtp_port
        )
        try:
            yield
        finally:
            server.close()
            await server.wait_closed()

    async def list_messages(request: Request) -> Response:
        return JSONResponse([mail.as_json() for mail in sink.messages])

    async def reset(request: Request) -> Response:
        sink.messages.clear()
        return Response(status_code=204)

    async def inbox(request: Request) -> Response:
        return JSONResponse(
            [entry.as_json() for mail in sink.messages for entry in mail.inbox_entries()]
        )

    return Starlette(
        routes=[
            Route("/_sim/messages", list_messages, methods=["GET"]),
            Route("/_sim/messages", reset, methods=["DELETE"]),
            Route("/_sim/inbox", inbox, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = base_argument_parser("SMTP sink", 8026)
    parser.add_argument("--smtp-port", type=int, default=8025)
    args = parser.parse_args(argv)
    run(create_smtp_app(SmtpSink(), args.host, args.smtp_port), args.host, args.port)


SIMULATOR = SimulatorSpec(
    name="smtp",
    summary="mail server (SMTP sink)",
    main=main,
    ports={"smtp-port": 25, "port": 26},
    service_env=lambda ports: {
        "SILA_NOTIFY_SMTP_HOST": "127.0.0.1",
        "SILA_NOTIFY_SMTP_PORT": str(ports["smtp-port"]),
    },
)
