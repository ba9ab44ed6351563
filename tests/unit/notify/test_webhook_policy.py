"""Webhook retries over about three days, subscriptions' event patterns, allowed destinations."""

import ipaddress
import random

import pytest

from sila_notify.domain.webhook_policy import (
    DestinationRefused,
    check_addresses,
    check_url_shape,
    next_retry_delay,
    type_matches,
)
from sila_notify.settings import NotifySettings

SCHEDULE = NotifySettings().webhook_retry_schedule


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def test_the_default_schedule_starts_at_5_seconds_and_spans_about_three_days() -> None:
    assert SCHEDULE[:5] == [5, 300, 1800, 7200, 18000]
    assert all(delay == 36000 for delay in SCHEDULE[5:])
    assert 2.8 * 86400 <= sum(SCHEDULE) <= 3.5 * 86400


def test_retry_delays_follow_the_schedule_within_the_jitter() -> None:
    rng = random.Random(7)
    for attempt, base in enumerate(SCHEDULE, start=1):
        delay = next_retry_delay(attempt, SCHEDULE, jitter_ratio=0.1, rng=rng)
        assert delay is not None
        assert base * 0.9 <= delay <= base * 1.1


def test_jitter_spreads_retries_of_the_same_attempt() -> None:
    rng = random.Random(1)
    delays = {next_retry_delay(3, SCHEDULE, jitter_ratio=0.1, rng=rng) for _ in range(20)}
    assert len(delays) > 1


def test_no_retry_once_the_schedule_is_exhausted() -> None:
    assert next_retry_delay(len(SCHEDULE) + 1, SCHEDULE) is None


def test_patterns_match_exact_types_service_wildcards_and_everything() -> None:
    assert type_matches(["tickets.ticket.opened"], "tickets.ticket.opened")
    assert type_matches(["tickets.*"], "tickets.ticket.status_changed")
    assert not type_matches(["tickets.*"], "billing.payment.succeeded")
    assert type_matches(["*"], "billing.payment.succeeded")


def test_one_time_codes_never_reach_a_partner_whatever_the_pattern() -> None:
    assert not type_matches(["*"], "identity.otp.requested")
    assert not type_matches(["identity.*"], "identity.otp.requested")


def test_production_refuses_plain_http_and_credentials_in_urls() -> None:
    with pytest.raises(DestinationRefused):
        check_url_shape("http://partner.example/hook", allow_plain_http=False)
    with pytest.raises(DestinationRefused):
        check_url_shape("https://user:pw@partner.example/hook", allow_plain_http=False)
    assert check_url_shape("https://partner.example/hook", allow_plain_http=False) == (
        "partner.example"
    )


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "0.0.0.0",
        "::ffff:10.0.0.1",
        "100.64.0.1",
    ],
)
def test_production_refuses_every_non_public_address(address: str) -> None:
    with pytest.raises(DestinationRefused):
        check_addresses([ip(address)], allow_loopback=False)


def test_a_name_with_one_private_address_among_public_ones_is_refused() -> None:
    with pytest.raises(DestinationRefused):
        check_addresses([ip("41.111.1.1"), ip("10.0.0.5")], allow_loopback=False)


def test_public_addresses_are_accepted() -> None:
    check_addresses([ip("41.111.1.1"), ip("2001:4860:4860::8888")], allow_loopback=False)


def test_dev_and_test_accept_loopback_but_still_refuse_private_networks() -> None:
    check_addresses([ip("127.0.0.1"), ip("::1")], allow_loopback=True)
    with pytest.raises(DestinationRefused):
        check_addresses([ip("192.168.0.10")], allow_loopback=True)


def test_a_host_that_resolves_to_nothing_is_refused() -> None:
    with pytest.raises(DestinationRefused):
        check_addresses([], allow_loopback=True)


# -- what a partner may receive (docs/security.md, case 2) ------------------------------------
from sila_notify.domain.webhook_policy import (  # noqa: E402
    Audience,
    partner_may_subscribe,
    view_for,
)

TICKET = {
    "ticket_id": "t1",
    "number": "TT-1",
    "customer_id": "c1",
    "status": "acknowledged",
    "partner_id": "p1",
    "wilaya_code": "15",
    "agency_code": "15-TIZI",
}
CUSTOMER = {"customer_id": "c1", "display_name": "Samira B.", "phone": "+213661234567"}


def test_a_partner_with_webhooks_manage_only_receives_nothing_personal() -> None:
    bare = Audience("partner:p1", frozenset({"webhooks:manage"}))
    for event_type, data in (
        ("identity.customer.registered", CUSTOMER),
        ("tickets.ticket.opened", TICKET),
        ("identity.interaction.logged", {"customer_id": "c1", "agent_id": "a1"}),
        ("tickets.note.added", {"ticket_id": "t1", "public": False, "partner_id": "p1"}),
        ("notify.message.sent", {"customer_id": "c1"}),
    ):
        assert view_for(bare, event_type, data) is None, event_type


def test_a_ticket_reader_hears_its_own_tickets_with_the_members_its_api_shows() -> None:
    reader = Audience("partner:p1", frozenset({"tmf621:read"}))
    view = view_for(reader, "tickets.ticket.opened", TICKET)
    assert view is not None and view["ticket_id"] == "t1"
    assert "agency_code" not in view and "wilaya_code" not in view
    assert view_for(reader, "tickets.ticket.opened", TICKET | {"partner_id": "p2"}) is None
    assert view_for(reader, "tickets.ticket.opened", TICKET | {"partner_id": None}) is None
    internal = {"ticket_id": "t1", "public": False, "text": None, "partner_id": "p1"}
    assert view_for(reader, "tickets.note.added", internal) is None
    assert view_for(reader, "tickets.note.added", internal | {"public": True, "text": "ok"})
    for internal_type in ("tickets.ticket.assigned", "tickets.ticket.escalated"):
        assert view_for(reader, internal_type, TICKET) is None


def test_another_partners_subscription_is_internal_and_codes_reach_nobody() -> None:
    manager = Audience("partner:p1", frozenset({"webhooks:manage"}))
    disabled = {"subscription_id": "s", "owner": "partner:p2", "url": "https://x", "reason": "r"}
    assert view_for(manager, "notify.webhook_subscription.disabled", disabled) is None
    own = disabled | {"owner": "partner:p1"}
    assert view_for(manager, "notify.webhook_subscription.disabled", own) == own
    admin = Audience("agent:a1")
    assert view_for(admin, "identity.customer.registered", CUSTOMER) == CUSTOMER
    assert view_for(admin, "identity.otp.requested", {"code": "123456"}) is None


def test_partners_are_told_which_exact_types_they_can_never_receive() -> None:
    assert partner_may_subscribe("identity.customer.registered", {"customers:read"})
    assert not partner_may_subscribe("identity.customer.registered", {"webhooks:manage"})
    assert not partner_may_subscribe("tickets.ticket.assigned", {"tickets:read"})
