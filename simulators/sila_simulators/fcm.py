"""A push stand-in for Firebase Cloud Messaging's HTTP v1 API, with FCM's own error bodies.

`POST /v1/projects/{project}/messages:send` with a Bearer token takes `{"message": {...}}` and
answers `{"name": "projects/<project>/messages/<id>"}`. Tokens steer the outcome: by default
one starting with "dead-" is UNREGISTERED (404), one starting with "flaky-" is UNAVAILABLE
(503) its first attempts; above the configured quota every send gets QUOTA_EXCEEDED (429)
with Retry-After. `GET /_sim/messages` lists what was sent, `DELETE /_sim/messages` forgets it,
`GET /_sim/inbox` lists it for the message viewer.

Run it with `python -m sila_simulators fcm --port 8014`.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sila_simulators.support import (
    InboxEntry,
    SimulatorSpec,
    SlidingWindowLimit,
    TemporaryFailures,
    base_argument_parser,
    run,
)

FCM_ERROR_TYPE: Final = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE: Final = "type.googleapis.com/google.rpc.BadRequest"
TARGET_FIELDS: Final = ("token", "topic", "condition")
# FCM refuses these data keys: they are its own.
RESERVED_DATA_KEYS: Final = frozenset({"from", "notification", "message_type"})
RESERVED_DATA_PREFIXES: Final = ("google.", "gcm.")


@dataclass(frozen=True, slots=True)
class FcmSimulatorConfig:
    # None accepts any non-empty Bearer token.
    access_tokens: frozenset[str] | None = None
    # None accepts any project id.
    project_id: str | None = None
    dead_device_prefix: str = "dead-"
    flaky_device_prefix: str = "flaky-"
    temporary_failures_before_success: int = 2
    quota_max_messages: int | None = None
    quota_period_seconds: float = 60.0
    retry_after_seconds: int = 60


@dataclass(frozen=True, slots=True)
class SentPush:
    name: str
    project: str
    message: Mapping[str, Any]
    sent_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "project": self.project,
            "message": self.message,
            "sent_at": self.sent_at.isoformat(),
        }


@dataclass
class _FcmState:
    config: FcmSimulatorConfig
    quota: SlidingWindowLimit
    temporary_failures: TemporaryFailures
    sent: list[SentPush] = field(default_factory=list)
    sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


def _error(
    http_status: int,
    status: str,
    message: str,
    *,
    fcm_error_code: str | None = None,
    field_violations: list[tuple[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A Google API error body, as FCM sends it."""
    details: list[dict[str, Any]] = []
    if fcm_error_code is not None:
        details.append({"@type": FCM_ERROR_TYPE, "errorCode": fcm_error_code})
    if field_violations:
        details.append(
            {
                "@type": BAD_REQUEST_TYPE,
                "fieldViolations": [
                    {"field": name, "description": description}
                    for name, description in field_violations
                ],
            }
        )
    error: dict[str, Any] = {"code": http_status, "message": message, "status": status}
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=http_status, headers=headers)


def _invalid_argument(message: str, field_name: str | None = None) -> Response:
    violations = [(field_name, message)] if field_name else None
    return _error(
        400,
        "INVALID_ARGUMENT",
        message,
        fcm_error_code="INVALID_ARGUMENT",
        field_violations=violations,
    )


def _unauthenticated() -> Response:
    return _error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential.",
    )


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _string_map_violation(value: object, path: str) -> str | None:
    if not isinstance(value, dict):
        return f"Invalid value at '{path}': expected an object"
    for index, item in enumerate(value.values()):
        if not isinstance(item, str):
            return f"Invalid value at '{path}[{index}].value' (TYPE_STRING), {json.dumps(item)}"
    return None


def _validation_problem(body: object) -> Response | None:
    """FCM's objection to a request body, if any."""
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        return _invalid_argument("Request contains an invalid argument.", "message")
    unknown = sorted(set(body) - {"message", "validate_only"})
    if unknown:
        return _invalid_argument(
            f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.',
            unknown[0],
        )
    message: dict[str, Any] = body["message"]
    targets = [name for name in TARGET_FIELDS if name in message]
    if len(targets) != 1:
        return _invalid_argument("Exactly one of token, topic or condition must be set.", "message")
    if targets == ["token"]:
        token = message["token"]
        if not isinstance(token, str) or not token.strip():
            return _invalid_argument(
                "The registration token is not a valid FCM registration token", "message.token"
            )
    if "notification" in message:
        violation = _string_map_violation(message["notification"], "message.notification")
        if violation:
            return _invalid_argument(violation, "message.notification")
    if "data" in message:
        data = message["data"]
        violation = _string_map_violation(data, "message.data")
        if violation:
            return _invalid_argument(violation, "message.data")
        for key in data:
            if key in RESERVED_DATA_KEYS or key.startswith(RESERVED_DATA_PREFIXES):
                return _invalid_argument(f"Invalid data payload key: {key}", "message.data")
    return None


async def _send(request: Request) -> Response:
    state: _FcmState = request.app.state.fcm
    config = state.config
    project = request.path_params["project"]

    token = _bearer_token(request)
    if token is None or (config.access_tokens is not None and token not in config.access_tokens):
        return _unauthenticated()
    if config.project_id is not None and project != config.project_id:
        return _error(
            403,
            "PERMISSION_DENIED",
            f"Permission 'cloudmessaging.messages.create' denied on resource "
            f"'//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not exist).",
        )
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _invalid_argument("Invalid JSON payload received.")
    problem = _validation_problem(body)
    if problem is not None:
        return problem

    message: dict[str, Any] = body["message"]
    if body.get("validate_only") is True:
        return JSONResponse({"name": f"projects/{project}/messages/fake_message_id"})
    if not state.quota.try_acquire():
        return _error(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Send requests' of service "
            "'fcm.googleapis.com' for this project.",
            fcm_error_code="QUOTA_EXCEEDED",
            headers={"Retry-After": str(config.retry_after_seconds)},
        )
    device_token = message.get("token")
    if isinstance(device_token, str):
        if device_token.startswith(config.dead_device_prefix):
            return _error(
                404, "NOT_FOUND", "Requested entity was not found.", fcm_error_code="UNREGISTERED"
            )
        if device_token.startswith(
            config.flaky_device_prefix
        ) and state.temporary_failures.should_fail(device_token):
            return _error(
                503,
                "UNAVAILABLE",
                "The service is currently unavailable.",
                fcm_error_code="UNAVAILABLE",
            )
    name = f"projects/{project}/messages/0:{next(state.sequence)}%{secrets.token_hex(8)}"
    state.sent.append(SentPush(name, project, message, datetime.now(UTC)))
    return JSONResponse({"name": name})


async def _list_messages(request: Request) -> Response:
    state: _FcmState = request.app.state.fcm
    return JSONResponse([push.as_json() for push in state.sent])


async def _inbox(request: Request) -> Response:
    state: _FcmState = request.app.state.fcm
    return JSONResponse([_inbox_entry(push).as_json() for push in state.sent])


def _inbox_entry(push: SentPush) -> InboxEntry:
    notification = push.message.get("notification") or {}
    data = push.message.get("data") or {}
    target = push.message.get("token") or push.message.get("topic") or "?"
    return InboxEntry(
        id=push.name,
        channel="push",
        to=str(target),
        sender=push.project,
        subject=notification.get("title"),
        text=str(notification.get("body") or json.dumps(data, ensure_ascii=False)),
        received_at=push.sent_at,
        status="sent",
    )


async def _reset(request: Request) -> Response:
    state: _FcmState = request.app.state.fcm
    state.sent.clear()
    state.quota.reset()
    state.temporary_failures.reset()
    return Response(status_code=204)


def create_fcm_app(config: FcmSimulatorConfig | None = None) -> Starlette:
    config = config or FcmSimulatorConfig()
    app = Starlette(
        routes=[
            Route("/v1/projects/{project}/messages:send", _send, methods=["POST"]),
            Route("/_sim/messages", _list_messages, methods=["GET"]),
            Route("/_sim/messages", _reset, methods=["DELETE"]),
            Route("/_sim/inbox", _inbox, methods=["GET"]),
        ]
    )
    app.state.fcm = _FcmState(
        config=config,
        quota=SlidingWindowLimit(config.quota_max_messages, config.quota_period_seconds),
        temporary_failures=TemporaryFailures(config.temporary_failures_before_success),
    )
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = base_argument_parser("FCM HTTP v1 push simulator", 8014)
    defaults = FcmSimulatorConfig()
    parser.add_argument("--project-id", default=None)
    parser.add_argument(
        "--access-token", action="append", default=None, help="accepted Bearer token (repeatable)"
    )
    parser.add_argument(
        "--temporary-failures", type=int, default=defaults.temporary_failures_before_success
    )
    parser.add_argument("--quota", type=int, default=None, help="max sends per quota period")
    parser.add_argument("--quota-period", type=float, default=defaults.quota_period_seconds)
    args = parser.parse_args(argv)
    config = FcmSimulatorConfig(
        access_tokens=frozenset(args.access_token) if args.access_token else None,
        project_id=args.project_id,
        temporary_failures_before_success=args.temporary_failures,
        quota_max_messages=args.quota,
        quota_period_seconds=args.quota_period,
    )
    run(create_fcm_app(config), args.host, args.port)


SIMULATOR = SimulatorSpec(
    name="fcm",
    summary="push (Firebase Cloud Messaging HTTP v1)",
    main=main,
    ports={"port": 14},
    service_env=lambda ports: {"SILA_NOTIFY_FCM_URL": f"http://127.0.0.1:{ports['port']}"},
)
