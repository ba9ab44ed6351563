"""What makes a well-formed logged contact."""

from __future__ import annotations

import pytest

from sila_identity.domain.interactions import (
    Direction,
    Interaction,
    InteractionChannel,
    InteractionOutcome,
    InteractionReason,
    InvalidInteraction,
    SocialNetwork,
    validate_interaction,
)


def contact(**changes: object) -> Interaction:
    fields: dict[str, object] = {
        "channel": InteractionChannel.CALL_CENTRE,
        "direction": Direction.INBOUND,
        "reason": InteractionReason.TECHNICAL,
        "outcome": InteractionOutcome.RESOLVED,
        "duration_seconds": 120,
    } | changes
    return Interaction(**fields)  # type: ignore[arg-type]


def test_an_inbound_call_to_the_12_with_its_duration_is_valid() -> None:
    assert validate_interaction(contact()).duration_seconds == 120


def test_an_agency_visit_may_or_may_not_have_a_duration() -> None:
    validate_interaction(contact(channel=InteractionChannel.AGENCY, duration_seconds=None))
    validate_interaction(contact(channel=InteractionChannel.AGENCY, duration_seconds=900))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"channel": InteractionChannel.CALLBACK, "direction": Direction.INBOUND}, "direction"),
        ({"duration_seconds": None}, "duration_seconds"),
        ({"channel": InteractionChannel.EMAIL}, "duration_seconds"),
        ({"duration_seconds": 5 * 3600}, "duration_seconds"),
        ({"social_network": SocialNetwork.FACEBOOK}, "social_network"),
        ({"duration_seconds": 0}, "outcome"),
        ({"outcome": InteractionOutcome.TICKET_OPENED}, "ticket_id"),
    ],
)
def test_contacts_that_cannot_have_happened_are_refused_naming_the_field(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInteraction) as refused:
        validate_interaction(contact(**changes))
    assert refused.value.field == field


def test_a_social_network_message_names_the_network_and_has_no_duration() -> None:
    with pytest.raises(InvalidInteraction):
        validate_interaction(contact(channel=InteractionChannel.SOCIAL, duration_seconds=None))
    validate_interaction(
        contact(
            channel=InteractionChannel.SOCIAL,
            duration_seconds=None,
            social_network=SocialNetwork.INSTAGRAM,
        )
    )


def test_an_unanswered_call_back_lasts_zero_seconds() -> None:
    validate_interaction(
        contact(
            channel=InteractionChannel.CALLBACK,
            direction=Direction.OUTBOUND,
            reason=InteractionReason.SATISFACTION_CHECK,
            outcome=InteractionOutcome.NO_ANSWER,
            duration_seconds=0,
        )
    )
