"""SILA_NOTIFY_LANES: which lanes a process sends, so a campaign can run in a process of its own."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sila_notify.settings import NotifySettings


def test_every_lane_is_served_by_default_in_priority_order() -> None:
    assert NotifySettings().served_lanes() == ("otp", "service", "marketing")


def test_a_process_can_keep_to_codes_and_service_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SILA_NOTIFY_LANES", "service, otp")
    assert NotifySettings().served_lanes() == ("otp", "service")


def test_a_process_can_send_the_marketing_lane_alone() -> None:
    assert NotifySettings(lanes="marketing").served_lanes() == ("marketing",)


def test_an_unknown_lane_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="unknown lanes"):
        NotifySettings(lanes="otp,campaigns")
