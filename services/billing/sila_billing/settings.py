"""Billing's settings (``SILA_BILLING_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from sila_common.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SILA_BILLING_", extra="ignore")

    service_name: str = "billing"
    port: int = 8003
    # Where the provider sends the customer's browser back (through the gateway).
    public_base_url: str = "http://127.0.0.1:8000"
    # Where the portal shows the payment's result after the confirmation.
    portal_payment_url: str = "http://127.0.0.1:8000/espace-client/paiements/{payment_id}"
    # SATIM (CIB and Edahabia). The defaults are make run's simulators (sila_simulators), on
    # the base port 8000; the real gateway in prod.
    satim_url: str = "http://127.0.0.1:8015"
    satim_username: str = "sila"
    satim_password: SecretStr = SecretStr("sila-secret")
    # Khlass (CCP).
    khlass_url: str = "http://127.0.0.1:8016"
    khlass_api_key: SecretStr = SecretStr("sila-khlass-key")
    provider_timeout_seconds: float = Field(default=10.0, gt=0)
    # A pending payment not confirmed by then is settled by asking the provider.
    payment_window_seconds: float = Field(default=900.0, gt=0)
    # Keyed hash of voucher codes.
    voucher_pepper: SecretStr = SecretStr("dev-only-voucher-pepper")
    # Wrong voucher codes: at most this many per customer and per line in the window.
    voucher_failures_allowed: int = Field(default=5, ge=1)
    voucher_failure_window_seconds: float = Field(default=900.0, gt=0)
    expiring_notice_days: int = Field(default=3, ge=1, le=30)
    # Background jobs: settlement of pending payments, subscription notices, overdue bills.
    jobs_interval_seconds: float = Field(default=30.0, gt=0)
    jobs_batch_size: int = Field(default=200, ge=1, le=10_000)
    bill_run_batch_size: int = Field(default=2000, ge=1, le=50_000)


def get_settings() -> BillingSettings:
    return BillingSettings()
