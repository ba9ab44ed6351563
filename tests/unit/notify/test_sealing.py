"""One-time codes at rest: masked in the row's body, sealed for the dispatcher alone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sila_notify.domain.sealing import MASK, Sealer, SealError, masked, secrets_of
from sila_notify.flows.planning import row_values
from sila_notify.template_store import Rendered


def test_a_sealed_text_opens_with_its_key_only() -> None:
    sealer = Sealer("one key")
    sealed = sealer.seal("Votre code Idoom est 123456.")
    assert "123456" not in sealed
    assert sealer.open(sealed) == "Votre code Idoom est 123456."
    assert sealer.seal("x") != sealer.seal("x")  # a fresh nonce each time
    with pytest.raises(SealError):
        Sealer("another key").open(sealed)
    with pytest.raises(SealError):
        sealer.open(sealed[:-4] + "AAAA")


def test_every_secret_member_is_masked() -> None:
    assert secrets_of({"code": "654321", "phone": "+213661234567"}) == ["654321"]
    assert masked("code 654321, again 654321", ["654321"]) == f"code {MASK}, again {MASK}"
    assert masked(None, ["1"]) is None


def otp_row(rendered: Rendered | str) -> dict[str, object]:
    now = datetime.now(UTC)
    return row_values(
        rendered,
        event_id="e1",
        event_type="identity.otp.requested",
        variant="",
        customer_id="c1",
        channel="sms",
        destination="+213661234567",
        language="fr",
        lane="otp",
        urgent=True,
        data={"code": "246810", "phone": "+213661234567", "expires_at": now.isoformat()},
        failover=[],
        scheduled_for=now,
        now=now,
        sealer=Sealer("dev-only-otp-sealing-key"),
    )


def test_a_queued_code_row_masks_the_code_and_seals_the_text() -> None:
    rendered = Rendered(
        template="identity.otp.requested",
        version=1,
        language="fr",
        subject="Code Idoom",
        body="Votre code Idoom est 246810.",
    )
    row = otp_row(rendered)
    assert row["state"] == "queued"
    assert row["body"] == f"Votre code Idoom est {MASK}."
    assert "246810" not in str(row["sealed_body"])
    assert Sealer("dev-only-otp-sealing-key").open(str(row["sealed_body"])) == rendered.body
    assert row["render_data"] == {}


def test_a_code_that_cannot_render_keeps_no_sealed_text() -> None:
    row = otp_row("template: 246810 is not a datetime")
    assert row["state"] == "failed"
    assert row["sealed_body"] is None
    assert "246810" not in str(row["provider_reason"])


def test_production_refuses_a_sealing_key_anyone_can_read() -> None:
    from pydantic import SecretStr

    from sila_common.settings import Profile
    from sila_notify.service import check_production_secrets
    from sila_notify.settings import PUBLIC_OTP_SEALING_KEYS, NotifySettings

    for public in PUBLIC_OTP_SEALING_KEYS:
        with pytest.raises(RuntimeError, match="SILA_NOTIFY_OTP_SEALING_KEY"):
            check_production_secrets(
                NotifySettings(otp_sealing_key=SecretStr(public)), Profile.PROD
            )
        check_production_secrets(NotifySettings(otp_sealing_key=SecretStr(public)), Profile.DEV)
    check_production_secrets(
        NotifySettings(otp_sealing_key=SecretStr("a real secret from the vault")), Profile.PROD
    )
    assert "compose-public-otp-sealing-key" in PUBLIC_OTP_SEALING_KEYS
