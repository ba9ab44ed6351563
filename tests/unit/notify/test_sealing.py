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
    private = NotifySettings(
        otp_sealing_key=SecretStr("a real secret from the vault"),
        otp_transport_key=SecretStr("the transport key from the vault"),
    )
    check_production_secrets(private, Profile.PROD)
    assert "compose-public-otp-sealing-key" in PUBLIC_OTP_SEALING_KEYS


def test_production_refuses_a_transport_key_anyone_can_read() -> None:
    from pydantic import SecretStr

    from sila_common.otp_transport import PUBLIC_KEYS
    from sila_common.settings import Profile
    from sila_notify.service import check_production_secrets
    from sila_notify.settings import NotifySettings

    sealing = SecretStr("a real secret from the vault")
    for public in (*PUBLIC_KEYS, "short"):
        settings = NotifySettings(otp_sealing_key=sealing, otp_transport_key=SecretStr(public))
        with pytest.raises(RuntimeError, match="SILA_OTP_TRANSPORT_KEY"):
            check_production_secrets(settings, Profile.PROD)
        check_production_secrets(settings, Profile.DEV)
    # A previous key still accepted during a rotation must be private too.
    with pytest.raises(RuntimeError, match="SILA_OTP_TRANSPORT_PREVIOUS_KEYS"):
        check_production_secrets(
            NotifySettings(
                otp_sealing_key=sealing,
                otp_transport_key=SecretStr("the transport key from the vault"),
                otp_transport_previous_keys=SecretStr("an old private key 01,change-me-four"),
            ),
            Profile.PROD,
        )
    assert "compose-public-otp-transport-key" in PUBLIC_KEYS


def test_the_code_identity_sealed_is_opened_for_the_text_and_a_clear_one_is_never_used() -> None:
    from sila_common.otp_transport import CodeUnreadable, TransportKey, TransportKeyring
    from sila_notify.domain.sealing import with_opened_code

    secret = "the transport key from the vault"
    key = TransportKey.from_secret(secret)
    event = {
        "customer_id": "c-1",
        "phone": "+213661234567",
        "sealed_code": key.seal("246810", customer_id="c-1", phone="+213661234567"),
        "key_id": key.key_id,
        "expires_at": "2026-01-12T13:35:00+00:00",
        "language": "fr",
    }
    opened = with_opened_code(event, TransportKeyring([secret]))
    # What the template renders: the code, and nothing of the seal.
    assert opened["code"] == "246810"
    assert "sealed_code" not in opened and "key_id" not in opened
    assert opened["phone"] == event["phone"]
    # A code in clear beside (or instead of) the seal is never what is sent.
    forged = {**event, "code": "000000"}
    assert with_opened_code(forged, TransportKeyring([secret]))["code"] == "246810"
    clear = {k: v for k, v in forged.items() if k not in ("sealed_code", "key_id")}
    with pytest.raises(CodeUnreadable, match="no sealed code"):
        with_opened_code(clear, TransportKeyring([secret]))
