"""Standard Webhooks signing and verification."""

import base64
from datetime import UTC, datetime, timedelta

import pytest

from sila_notify.domain.webhook_signature import (
    WebhookVerificationError,
    generate_secret,
    sign,
    signature_header,
    verify,
    webhook_headers,
)

# The test vector shared by the official Standard Webhooks libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SPEC_NOW = datetime.fromtimestamp(SPEC_TIMESTAMP, UTC)


def spec_headers(
    signature: str = SPEC_SIGNATURE, timestamp: int | str = SPEC_TIMESTAMP
) -> dict[str, str]:
    return {
        "webhook-id": SPEC_MSG_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_signature_matches_the_specification_test_vector() -> None:
    assert sign(SPEC_SECRET, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_specification_test_vector_verifies() -> None:
    verify(SPEC_SECRET, spec_headers(), SPEC_BODY, now=SPEC_NOW)


def test_secret_without_prefix_signs_the_same() -> None:
    bare = SPEC_SECRET.removeprefix("whsec_")
    assert sign(bare, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_generated_secret_is_prefixed_base64_of_32_random_bytes() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert generate_secret() != secret


def test_tampered_body_is_rejected() -> None:
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(SPEC_SECRET, spec_headers(), b'{"test": 2432232315}', now=SPEC_NOW)


def test_other_message_id_is_rejected() -> None:
    headers = {**spec_headers(), "webhook-id": "msg_other"}
    with pytest.raises(WebhookVerificationError):
        verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_NOW)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(WebhookVerificationError):
        verify(generate_secret(), spec_headers(), SPEC_BODY, now=SPEC_NOW)


def test_rotation_header_carries_one_signature_per_secret_and_either_secret_verifies() -> None:
    new_secret = generate_secret()
    header = signature_header([SPEC_SECRET, new_secret], SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY)
    signatures = header.split(" ")
    assert len(signatures) == 2
    assert signatures[0] == SPEC_SIGNATURE
    for secret in (SPEC_SECRET, new_secret):
        verify(secret, spec_headers(signature=header), SPEC_BODY, now=SPEC_NOW)


def test_receiver_holding_several_secrets_accepts_a_signature_by_any_of_them() -> None:
    verify([generate_secret(), SPEC_SECRET], spec_headers(), SPEC_BODY, now=SPEC_NOW)


def test_unknown_signature_versions_are_skipped_not_fatal() -> None:
    header = f"v1a,c29tZXRoaW5n v2,abc {SPEC_SIGNATURE}"
    verify(SPEC_SECRET, spec_headers(signature=header), SPEC_BODY, now=SPEC_NOW)


def test_only_unknown_signature_versions_are_rejected() -> None:
    forged = SPEC_SIGNATURE.replace("v1,", "v2,")
    with pytest.raises(WebhookVerificationError):
        verify(SPEC_SECRET, spec_headers(signature=forged), SPEC_BODY, now=SPEC_NOW)


def test_malformed_base64_signature_is_rejected_not_crashing() -> None:
    with pytest.raises(WebhookVerificationError):
        verify(SPEC_SECRET, spec_headers(signature="v1,@@@"), SPEC_BODY, now=SPEC_NOW)


@pytest.mark.parametrize("offset", [timedelta(minutes=5), -timedelta(minutes=5)])
def test_timestamp_exactly_five_minutes_off_is_accepted(offset: timedelta) -> None:
    verify(SPEC_SECRET, spec_headers(), SPEC_BODY, now=SPEC_NOW + offset)


def test_timestamp_older_than_five_minutes_is_a_replay() -> None:
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(
            SPEC_SECRET, spec_headers(), SPEC_BODY, now=SPEC_NOW + timedelta(minutes=5, seconds=1)
        )


def test_timestamp_more_than_five_minutes_ahead_is_rejected() -> None:
    with pytest.raises(WebhookVerificationError, match="future"):
        verify(
            SPEC_SECRET, spec_headers(), SPEC_BODY, now=SPEC_NOW - timedelta(minutes=5, seconds=1)
        )


def test_tolerance_is_configurable() -> None:
    verify(
        SPEC_SECRET,
        spec_headers(),
        SPEC_BODY,
        now=SPEC_NOW + timedelta(hours=1),
        tolerance=timedelta(hours=2),
    )


def test_non_numeric_timestamp_is_rejected() -> None:
    with pytest.raises(WebhookVerificationError, match="Unix time"):
        verify(SPEC_SECRET, spec_headers(timestamp="yesterday"), SPEC_BODY, now=SPEC_NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected(missing: str) -> None:
    headers = {name: value for name, value in spec_headers().items() if name != missing}
    with pytest.raises(WebhookVerificationError, match=missing):
        verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_NOW)


def test_header_names_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in spec_headers().items()}
    verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_NOW)


def test_webhook_headers_round_trip_through_verify() -> None:
    secret = generate_secret()
    body = b'{"type": "tickets.ticket.closed", "ticket": "TT-2026-000123"}'
    headers = webhook_headers([secret], "msg_1", SPEC_TIMESTAMP, body)
    assert headers["webhook-timestamp"] == str(SPEC_TIMESTAMP)
    verify(secret, headers, body, now=SPEC_NOW)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        verify(SPEC_SECRET, spec_headers(), SPEC_BODY, now=datetime(2021, 2, 26))


def test_signing_with_no_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        signature_header([], SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY)


def test_secret_that_is_not_base64_is_refused() -> None:
    with pytest.raises(ValueError, match="base64"):
        sign("whsec_not base64!", SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY)
