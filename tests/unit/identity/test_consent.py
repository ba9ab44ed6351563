"""Which consent applies: newest record, exact channel over 'any', defaults per purpose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sila_identity.domain.consent import ConsentChannel, ConsentRecord, Purpose, current_consent

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def record(purpose: Purpose, channel: ConsentChannel, granted: bool, minutes: int) -> ConsentRecord:
    return ConsentRecord(purpose, channel, granted, T0 + timedelta(minutes=minutes))


def test_without_records_service_messages_are_on_and_marketing_is_off() -> None:
    assert current_consent([], Purpose.SERVICE, ConsentChannel.SMS) is True
    assert current_consent([], Purpose.MARKETING, ConsentChannel.SMS) is False


def test_the_newest_record_for_the_channel_wins() -> None:
    records = [
        record(Purpose.MARKETING, ConsentChannel.SMS, True, 1),
        record(Purpose.MARKETING, ConsentChannel.SMS, False, 2),
    ]
    assert current_consent(records, Purpose.MARKETING, ConsentChannel.SMS) is False


def test_a_later_choice_for_every_channel_overrides_an_older_one_for_a_channel() -> None:
    records = [
        record(Purpose.MARKETING, ConsentChannel.EMAIL, True, 1),
        record(Purpose.MARKETING, ConsentChannel.ANY, False, 2),
    ]
    assert current_consent(records, Purpose.MARKETING, ConsentChannel.EMAIL) is False


def test_a_later_choice_for_a_channel_overrides_an_older_one_for_every_channel() -> None:
    records = [
        record(Purpose.MARKETING, ConsentChannel.ANY, False, 1),
        record(Purpose.MARKETING, ConsentChannel.PUSH, True, 2),
    ]
    assert current_consent(records, Purpose.MARKETING, ConsentChannel.PUSH) is True
    assert current_consent(records, Purpose.MARKETING, ConsentChannel.SMS) is False


def test_records_of_another_purpose_do_not_count() -> None:
    records = [record(Purpose.SERVICE, ConsentChannel.SMS, False, 1)]
    assert current_consent(records, Purpose.MARKETING, ConsentChannel.SMS) is False
    assert current_consent(records, Purpose.SERVICE, ConsentChannel.SMS) is False
    assert current_consent(records, Purpose.SERVICE, ConsentChannel.EMAIL) is True
