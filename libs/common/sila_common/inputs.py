"""Checks every service applies to what a client sends: instants, days, cursors, names.

Crafted input must end as a 422 naming the field, never as a 500 from deep inside: a year-1
date with a +14:00 offset overflows when converted to UTC, a huge integer overflows the
database's bigint, a boolean passes ``isinstance(x, int)``, and NUL or bidirectional
override characters make a name unstorable (PostgreSQL refuses NUL) or misleading (U+202E
shows "gpj.exe" as "exe.jpg").
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from sila_common.pagination import decode_cursor, invalid_cursor
from sila_common.problems import MEDIA_TYPE, Unprocessable

# The instants and days Sila has business with. Wide enough for any contract, SLA or
# report; narrow enough that arithmetic on them (a due date, a time zone) cannot overflow.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# A keyset cursor's integer must fit a PostgreSQL bigint.
BIGINT_MAX = 2**63 - 1

# Directional formatting characters that reorder what follows them: embeddings, overrides
# and isolates. The plain marks (U+200E, U+200F, U+061C) stay allowed: Arabic text with
# Latin words legitimately carries them and they cannot hide a reordering.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def utc_instant(value: datetime) -> datetime:
    """``value`` in UTC (a naive value is taken as UTC); ValueError outside [1900, 2200)."""
    try:
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError("the instant is out of range") from exc
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"the instant must be between {EARLIEST.year} and {LATEST.year - 1} (UTC)")
    return moment


def _refuse_numbers(value: Any) -> Any:
    """RFC 3339 only: pydantic would read ``0`` or ``1e10`` as seconds since 1970."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and _NUMBER.fullmatch(value.strip())
    ):
        raise ValueError("give an RFC 3339 date-time, such as 2026-03-01T08:00:00+01:00")
    return value


def _check_instant(value: datetime) -> datetime:
    utc_instant(value)
    return value


def _check_day(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        raise ValueError(f"the day must be between {EARLIEST.year} and {LATEST.year - 1}")
    return value


def check_name(value: str) -> str:
    """A name (of a person, company, campaign, template...): no control or override characters."""
    for char in value:
        if char in BIDI_CONTROLS:
            raise ValueError(
                f"the name contains the directional formatting character U+{ord(char):04X}"
            )
        if unicodedata.category(char) == "Cc":
            raise ValueError(f"the name contains the control character U+{ord(char):04X}")
    return value


# An instant a client sends: parsed by pydantic, then bounded so that converting it to UTC
# or to Africa/Algiers, or adding an SLA to it, cannot overflow.
Instant = Annotated[datetime, BeforeValidator(_refuse_numbers), AfterValidator(_check_instant)]
# A calendar day a client sends, with the same bounds.
Day = Annotated[date, BeforeValidator(_refuse_numbers), AfterValidator(_check_day)]
# A name a client sends.
Name = Annotated[str, AfterValidator(check_name)]


def decode_time_cursor(cursor: str) -> tuple[datetime, str]:
    """A ``[instant, id]`` keyset cursor (newest-first lists): the instant in UTC and the id."""
    moment, last_id = decode_cursor(cursor, size=2)
    if not isinstance(moment, str) or not isinstance(last_id, str) or len(last_id) > 200:
        raise invalid_cursor()
    try:
        return utc_instant(datetime.fromisoformat(moment)), last_id
    except ValueError as exc:
        raise invalid_cursor() from exc


def decode_id_cursor(cursor: str) -> int:
    """A ``[id]`` keyset cursor over an integer key."""
    (last_id,) = decode_cursor(cursor, size=1)
    if not _is_bigint(last_id):
        raise invalid_cursor()
    assert isinstance(last_id, int)
    return last_id


def _is_bigint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= BIGINT_MAX


class RefuseNul:
    """ASGI middleware: a NUL character anywhere in the request is a 422 problem, and so is
    a JSON body with a number JSON has no place for (``NaN``, ``Infinity``, ``1e400``).

    PostgreSQL cannot store NUL in text, so a ``\\u0000`` in a name, a note or a query
    parameter would otherwise surface as a 500 from the database driver, in whichever
    endpoint it was sent to. Checked once here for every service: the path, the query
    string, and the body of JSON and form requests (escaped or raw). Python's JSON reader
    takes ``NaN`` and ``Infinity`` (and reads ``1e400`` as infinity), which jsonb refuses:
    in a free-form member (script answers, a questionnaire's document) that was a 500 too.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = None
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        if b"\x00" in raw_path or b"%00" in raw_path or "\x00" in scope["path"]:
            where = "path"
        elif b"\x00" in scope.get("query_string", b"") or b"%00" in scope.get("query_string", b""):
            where = "query"
        problem = _NUL
        if where is None and scope["method"] in ("POST", "PUT", "PATCH"):
            body, more = await _read_body(receive)
            content_type = _content_type(scope)
            if _has_nul(body, content_type):
                where = "body"
            elif _has_non_finite_number(body, content_type):
                where, problem = "body", _NON_FINITE
            receive = _replay(body, more, receive)
        if where is None:
            await self.app(scope, receive, send)
            return
        await _problem_response(send, where, problem)


def _content_type(scope: Any) -> bytes:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return bytes(value).lower()
    return b""


def _has_nul(body: bytes, content_type: bytes) -> bool:
    if b"\x00" in body:
        return True
    if b"json" in content_type:
        return b"\\u0000" in body
    if b"x-www-form-urlencoded" in content_type:
        return b"%00" in body
    return False


# What may spell a number outside JSON's (RFC 8259): the constants Python accepts, and
# literals too large for a float (an exponent of three digits or more, or 300 digits). Only
# a body holding one of them is parsed here, to tell a number from the same letters in a
# string.
_MAYBE_NON_FINITE = re.compile(rb"NaN|Infinity|[eE][+]?\d{3}|\d{300}")


class _NonFinite(ValueError):
    pass


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _NonFinite(text)
    return number


def _refuse_constant(text: str) -> float:
    raise _NonFinite(text)


def _has_non_finite_number(body: bytes, content_type: bytes) -> bool:
    if b"json" not in content_type or not _MAYBE_NON_FINITE.search(body):
        return False
    try:
        json.loads(body, parse_float=_finite, parse_constant=_refuse_constant)
    except _NonFinite:
        return True
    except ValueError:
        return False  # not JSON (or cut at the inspected size): the endpoint says so
    return False


# Bodies larger than this are not inspected here (the edge caps bodies at 1 MiB anyway).
_INSPECTED_BODY = 1 << 20


async def _read_body(receive: Any) -> tuple[bytes, bool]:
    """The body (up to the inspected size) and whether more of it is still to come."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # A disconnect: hand it on as it is.
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False
        if size >= _INSPECTED_BODY:
            return b"".join(chunks), True


def _replay(body: bytes, more: bool, receive: Any) -> Any:
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay


# (detail, slug, message, type) of each refusal.
_NUL = (
    "A NUL character is not accepted anywhere in a request.",
    "nul-character",
    "contains a NUL character",
    "nul",
)
_NON_FINITE = (
    "JSON numbers are finite: NaN, Infinity and numbers beyond a float's range are refused.",
    "non-finite-number",
    "contains NaN, Infinity or a number too large for a float",
    "non_finite_number",
)


async def _problem_response(send: Any, where: str, refusal: tuple[str, str, str, str]) -> None:
    detail, slug, message, kind = refusal
    problem = Unprocessable(
        detail, slug=slug, errors=[{"field": where, "message": message, "type": kind}]
    )
    payload = json.dumps(problem.body()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
