"""Notify's settings (``SILA_NOTIFY_*``)."""

from __future__ import annotations

from datetime import time
from functools import lru_cache

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from sila_common.otp_transport import (
    DEV_KEY,
    KEY_ENV,
    PREVIOUS_KEYS_ENV,
    TransportKeyring,
    parse_previous_keys,
)
from sila_common.settings import ServiceSettings
from sila_notify.domain.quiet_hours import QuietHoursWindow
from sila_notify.domain.routing import LANES
from sila_notify.domain.sealing import Sealer


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SILA_NOTIFY_", extra="ignore")

    service_name: str = "notify"
    port: int = 8005

    # Channels.
    # The defaults are make run's simulators (sila_simulators), on the base port 8000.
    sms_url: str = "http://127.0.0.1:8013/cgi-bin/sendsms"
    sms_username: str = "sila"
    sms_password: SecretStr = SecretStr("sila")
    sms_sender: str = "Idoom"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_sender: str = "Algérie Télécom <no-reply@algerietelecom.dz>"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    fcm_url: str = "http://127.0.0.1:8014"
    fcm_project: str = "my-idoom"
    fcm_access_token: SecretStr = SecretStr("sila-dev-fcm-token")
    # Seals the text of one-time-code messages at rest (docs/notify.md); the dev default is
    # refused in prod. Changing it fails the codes queued at that moment (they live minutes).
    otp_sealing_key: SecretStr = SecretStr("dev-only-otp-sealing-key")
    # Opens the code identity sealed for notify in ``identity.otp.requested``: the same
    # SILA_OTP_TRANSPORT_KEY as identity's (unprefixed, shared by the two services only;
    # sila_common.otp_transport). During a rotation, SILA_OTP_TRANSPORT_PREVIOUS_KEYS
    # (comma-separated) still opens the codes sealed under the old key. The dev default is
    # refused in prod.
    otp_transport_key: SecretStr = Field(
        default=SecretStr(DEV_KEY), validation_alias=AliasChoices(KEY_ENV, "otp_transport_key")
    )
    otp_transport_previous_keys: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices(PREVIOUS_KEYS_ENV, "otp_transport_previous_keys"),
    )
    # Where the SMS centre calls back with delivery reports (this service, as seen from it).
    public_base_url: str = "http://127.0.0.1:8005"
    provider_timeout_seconds: float = Field(default=10.0, gt=0)

    # The dispatcher (sends due messages), the webhook deliverer and the campaign planner run
    # next to the relay (one or several processes: they share the work); false turns them off.
    dispatcher: bool = True
    # The lanes this process's dispatcher sends, comma-separated (``otp,service`` here and
    # ``marketing`` in another process keeps a campaign off the OTP process's CPU). The
    # campaign planner runs where the marketing lane is served.
    lanes: str = ",".join(LANES)
    dispatcher_poll_seconds: float = Field(default=0.2, gt=0)
    dispatcher_batch: int = Field(default=50, ge=1, le=1000)
    # Provider calls at once per lane; sends are recorded by group commit outside these slots.
    dispatcher_concurrency: int = Field(default=32, ge=1, le=500)
    # The marketing lane sends with fewer at once, so it never takes the database connections
    # an OTP needs (the pool is shared).
    marketing_concurrency: int = Field(default=3, ge=1, le=500)
    # A message left "sending" longer than this (a crashed sender) is reconciled.
    sending_lease_seconds: float = Field(default=60.0, gt=0)
    # Temporary failures: retried after base * 4**(attempt-1) seconds, up to max attempts.
    retry_base_seconds: float = Field(default=2.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    # Non-urgent messages wait out these hours (Africa/Algiers); start == end: none.
    quiet_hours_start: time = time(21, 0)
    quiet_hours_end: time = time(8, 0)
    # Frequency caps for non-urgent messages, per customer, on the channels that interrupt.
    service_cap_messages: int = Field(default=10, ge=1)
    marketing_cap_messages: int = Field(default=2, ge=1)
    cap_period_hours: float = Field(default=24.0, gt=0)

    # Campaigns: how many marketing messages per second at most, planned in chunks.
    campaign_rate_per_second: float = Field(default=50.0, ge=1 / 60, le=10_000)
    campaign_chunk_size: int = Field(default=1000, ge=1, le=50_000)

    # Partner webhooks.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Seconds between attempts; ~3 days in all. Tests shorten it.
    webhook_retry_schedule: list[float] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, *[36000.0] * 7]
    )
    webhook_jitter_ratio: float = Field(default=0.1, ge=0, le=1)
    webhook_secret_overlap_hours: float = Field(default=24.0, ge=0)
    # TMF621 hub events: the trouble ticket's ``href`` is built on this (the gateway, as
    # partners see it; tickets' SILA_TICKETS_PUBLIC_BASE_URL).
    tmf_public_base_url: str = "http://127.0.0.1:8000"

    @field_validator("lanes")
    @classmethod
    def _known_lanes(cls, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = sorted(set(names) - set(LANES))
        if unknown:
            raise ValueError(f"unknown lanes {unknown}; lanes are {', '.join(LANES)}")
        return ",".join(dict.fromkeys(names))

    def served_lanes(self) -> tuple[str, ...]:
        """The lanes this process sends, in priority order."""
        chosen = set(self.lanes.split(",")) if self.lanes else set()
        return tuple(lane for lane in LANES if lane in chosen)

    def sealer(self) -> Sealer:
        return _sealer(self.otp_sealing_key.get_secret_value())

    def transport_keys(self) -> TransportKeyring:
        return _keyring(
            self.otp_transport_key.get_secret_value(),
            self.otp_transport_previous_keys.get_secret_value(),
        )

    def quiet_window(self) -> QuietHoursWindow:
        return QuietHoursWindow(start=self.quiet_hours_start, end=self.quiet_hours_end)


@lru_cache(maxsize=4)
def _sealer(secret: str) -> Sealer:
    return Sealer(secret)


@lru_cache(maxsize=4)
def _keyring(current: str, previous: str) -> TransportKeyring:
    return TransportKeyring([current, *parse_previous_keys(previous)])


DEV_OTP_SEALING_KEY = "dev-only-otp-sealing-key"
# Values anyone can read (this code, docker-compose.yml): refused in prod.
PUBLIC_OTP_SEALING_KEYS = frozenset({DEV_OTP_SEALING_KEY, "compose-public-otp-sealing-key"})


def get_settings() -> NotifySettings:
    return NotifySettings()
