"""How long agents' access tokens live, by profile and setting."""

from __future__ import annotations

from sila_common.settings import Profile
from sila_identity.api.auth import agent_ttl
from sila_identity.settings import VERIFIER_LEEWAY_SECONDS, IdentitySettings


def test_agent_tokens_expire_within_a_minute_including_the_verifiers_leeway() -> None:
    for profile in (Profile.PROD, Profile.DEV):
        assert agent_ttl(IdentitySettings(), profile) + VERIFIER_LEEWAY_SECONDS <= 60


def test_the_test_profile_keeps_the_long_lived_token_the_shared_fixtures_hold() -> None:
    assert agent_ttl(IdentitySettings(), Profile.TEST) == 900


def test_an_explicit_setting_wins_in_every_profile() -> None:
    settings = IdentitySettings(agent_access_token_ttl_seconds=30)
    assert agent_ttl(settings, Profile.TEST) == 30
    assert agent_ttl(settings, Profile.PROD) == 30
