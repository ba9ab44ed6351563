"""Structured JSON logs with the correlation id and trace ids, and personal data masked.

Masking works on keys (``phone``, ``email``, ``password``...) and on values that look
like Algerian phone numbers, e-mail addresses or national identification numbers, so a
careless ``log.info(..., body=text)`` still leaks nothing (law 18-07).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from sila_common.correlation import current_correlation_id
from sila_common.tracing import current_trace_ids

SECRET_KEYS = {
    "password",
    "secret",
    "token",
    "access_token",
    "refresh_token",
    "otp",
    "code",
    "client_secret",
    "authorization",
}
PII_KEYS = {
    "phone",
    "email",
    "national_id",
    "nin",
    "first_name",
    "last_name",
    "address",
    "first_name_ar",
    "last_name_ar",
    "name",
}

# Standard-library loggers kept at WARNING whatever the root level (see configure_logging).
QUIET_LOGGERS = ("httpx", "httpcore", "aiohttp")

# A phone number stands alone: digits inside a longer token (a trace id, a UUID, a hash)
# are not one.
_PHONE = re.compile(
    r"(?<![0-9A-Za-z])(?:(?:\+|00)\s?213|213|0)[\s.-]?\(?[2-9](?:[\s.)-]?\d){7,8}(?![0-9A-Za-z])"
)
# Identifiers the platform itself generates: never personal data, kept whole for tracing.
ID_KEYS = frozenset({"trace_id", "span_id", "correlation_id", "event_id", "request_id"})
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_NIN = re.compile(r"(?<!\d)\d{18}(?!\d)")


def mask_text(text: str) -> str:
    text = _EMAIL.sub(lambda m: m.group()[0] + "***@***", text)
    text = _NIN.sub(lambda m: m.group()[:2] + "*" * 12 + m.group()[-4:], text)
    return _PHONE.sub(lambda m: m.group()[:4] + "*****" + m.group()[-3:], text)


def mask_value(key: str, value: Any) -> Any:
    lowered = key.lower()
    if lowered in SECRET_KEYS:
        return "[redacted]"
    if lowered in PII_KEYS and isinstance(value, str):
        return value[:1] + "***" if value else value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    return value


def _mask_pii(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if key in {"timestamp", "level", "logger"} or key in ID_KEYS:
            continue
        event_dict[key] = mask_value(key, value)
    return event_dict


def _add_correlation(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    correlation = current_correlation_id()
    if correlation and "correlation_id" not in event_dict:
        event_dict["correlation_id"] = correlation
    ids = current_trace_ids()
    if ids is not None and "trace_id" not in event_dict:
        event_dict["trace_id"], event_dict["span_id"] = ids
    return event_dict


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now; a log line never raises (a closed stream,
    as after a test's captured output, is skipped rather than crashing the caller)."""

    def write(self, text: str) -> int:
        try:
            return sys.stderr.write(text)
        except (ValueError, OSError):
            return 0

    def flush(self) -> None:
        try:
            sys.stderr.flush()
        except (ValueError, OSError):
            pass


def configure_logging(*, service: str, level: str = "INFO", json_output: bool = True) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_correlation,
            # Tracebacks are rendered first so the masking sees (and cleans) them too.
            structlog.processors.format_exc_info,
            _mask_pii,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    # HTTP clients log whole request URLs at INFO, and some carry secrets in the query (the
    # SMS centre's send URL holds the text of a one-time code and the account's password).
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
