"""Personal data never reaches the logs (law 18-07)."""

from __future__ import annotations

import json

import pytest
import structlog

from sila_common.logging import configure_logging, mask_text, mask_value


@pytest.mark.parametrize(
    "raw",
    ["+213550123456", "0550 12 34 56", "0550123456", "00213 661 23 45 67", "026 12 34 56"],
)
def test_algerian_phone_numbers_are_masked_in_free_text(raw: str) -> None:
    masked = mask_text(f"call {raw} back")
    assert raw not in masked
    assert "*****" in masked


def test_emails_and_national_ids_are_masked_in_free_text() -> None:
    masked = mask_text("karim@example.dz sent 109861234567890123")
    assert "karim@example.dz" not in masked
    assert "109861234567890123" not in masked
    assert masked.startswith("k***@***")


def test_secret_and_personal_keys_are_redacted_whatever_their_value() -> None:
    assert mask_value("password", "hunter2") == "[redacted]"
    assert mask_value("otp", "123456") == "[redacted]"
    assert mask_value("last_name", "Benali") == "B***"
    assert mask_value("body", {"phone": "+213550123456"}) == {"phone": "+***"}


def test_a_log_line_is_json_with_the_correlation_id_and_no_pii(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sila_common.correlation import set_correlation_id

    configure_logging(service="test", level="INFO", json_output=True)
    set_correlation_id("req-42")
    structlog.get_logger("t").info("customer.called", note="rappel au 0661 23 45 67")
    set_correlation_id(None)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["correlation_id"] == "req-42"
    assert line["service"] == "test"
    assert "0661 23 45 67" not in line["note"]


@pytest.mark.parametrize(
    "token",
    [
        "91e028504634b685307fb2387dcc09d3",  # a trace id whose digits read like 0504 634 ...
        "91e02850-4634-b685-307f-b2387dcc09d3",
        "a0550123456",
    ],
)
def test_digits_inside_an_identifier_are_no_phone(token: str) -> None:
    assert mask_text(f"id {token} seen") == f"id {token} seen"
    assert mask_text("call 0550123456 now") == "call 0550*****456 now"
