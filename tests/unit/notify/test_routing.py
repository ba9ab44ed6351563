"""Who hears what, where: consent, channel choice, conditions, backoff."""

import pytest

from sila_notify.domain.routing import (
    choose_channels,
    consent_allows,
    matches,
    retry_delay_seconds,
    split_primary,
)


def test_one_time_codes_go_even_when_everything_was_refused() -> None:
    refused = {("service", "any"): False, ("marketing", "any"): False}
    assert consent_allows("otp", "sms", refused)


def test_service_messages_go_without_any_consent_record() -> None:
    assert consent_allows("service", "sms", {})


def test_service_messages_stop_on_a_channel_the_customer_refused() -> None:
    assert not consent_allows("service", "sms", {("service", "sms"): False})
    assert consent_allows("service", "email", {("service", "sms"): False})


def test_marketing_never_goes_without_consent() -> None:
    assert not consent_allows("marketing", "sms", {})
    assert not consent_allows("marketing", "sms", {("service", "sms"): True})


def test_marketing_goes_with_consent_for_the_channel_or_for_any() -> None:
    assert consent_allows("marketing", "sms", {("marketing", "sms"): True})
    assert consent_allows("marketing", "email", {("marketing", "any"): True})


def test_a_refusal_for_the_channel_beats_a_general_grant() -> None:
    consents = {("marketing", "any"): True, ("marketing", "sms"): False}
    assert not consent_allows("marketing", "sms", consents)


def test_a_general_refusal_beats_no_specific_record() -> None:
    assert not consent_allows("service", "push", {("service", "any"): False})


def test_channels_follow_the_customer_order_then_the_route_order() -> None:
    chosen = choose_channels(
        route_channels=["sms", "push", "email", "in_app"],
        customer_order=["email", "sms"],
        reachable={"sms", "email", "push", "in_app"},
        allowed={"sms", "email", "push", "in_app"},
    )
    assert chosen == ["email", "sms", "push", "in_app"]


def test_unreachable_or_refused_channels_are_left_out() -> None:
    chosen = choose_channels(
        route_channels=["sms", "push", "email", "in_app"],
        customer_order=["push", "sms", "email", "in_app"],
        reachable={"sms", "email", "in_app"},
        allowed={"email", "in_app"},
    )
    assert chosen == ["email", "in_app"]


def test_the_inbox_copy_is_apart_from_the_one_interrupting_send() -> None:
    assert split_primary(["sms", "in_app", "email"]) == (["sms", "email"], True)
    assert split_primary(["sms"]) == (["sms"], False)


def test_a_status_change_speaks_only_for_the_statuses_named() -> None:
    condition = {"status": ["resolved", "closed"]}
    assert matches(condition, {"status": "resolved"})
    assert not matches(condition, {"status": "assigned"})
    assert matches({}, {"status": "anything"})


def test_retries_back_off_exponentially() -> None:
    assert [retry_delay_seconds(n, 2.0) for n in (1, 2, 3)] == [2.0, 8.0, 32.0]
    with pytest.raises(ValueError, match="count from 1"):
        retry_delay_seconds(0, 2.0)
