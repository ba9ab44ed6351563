"""Settings shared by every service, read from the environment (pydantic-settings).

Platform-wide variables carry the ``SILA_`` prefix; each service adds its own with
``SILA_<SERVICE>_`` (for example ``SILA_TICKETS_DATABASE_URL``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where ``make run`` starts its embedded PostgreSQL (the base port 8000 + 32).
DEV_POSTGRES_PORT = 8032


class Profile(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class PlatformSettings(BaseSettings):
    """What every process of every service shares."""

    model_config = SettingsConfigDict(env_prefix="SILA_", extra="ignore")

    profile: Profile = Profile.DEV
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Apache Kafka supports the idempotent producer; the embedded Tansu broker does not
    # (InitProducerId fails), so it is a setting and consumers deduplicate regardless.
    kafka_idempotence: bool = False
    jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    # How long a service trusts the key set it fetched: a key identity retired (rotation,
    # compromise) stops verifying everywhere within this time.
    jwks_max_age_seconds: float = Field(default=300.0, gt=0, le=3600)
    jwt_issuer: str = "https://sila.algerietelecom.dz"
    jwt_audience: str = "sila"
    log_level: str = "INFO"
    log_json: bool = True


class ServiceSettings(BaseSettings):
    """The per-service part; subclasses set ``env_prefix`` to ``SILA_<SERVICE>_``."""

    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = "service"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = ""
    # Relay and consumer processes have no HTTP API; they expose /metrics on this port.
    metrics_port: int | None = None
    # Relay tuning.
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    # Groups of shards the relay drains at once (one database connection each).
    relay_lanes: int = Field(default=4, ge=1, le=16)
    relay_poll_interval_seconds: float = Field(default=0.05, gt=0)
    relay_max_shards: int = Field(default=16, ge=1)
    outbox_retention_hours: int = Field(default=24 * 7, ge=1)
    # Consumer tuning.
    consumer_max_attempts: int = Field(default=4, ge=1)
    consumer_backoff_seconds: float = Field(default=0.2, gt=0)
    consumer_session_timeout_ms: int = Field(default=10_000, ge=1000)
    # How long the broker may hold a fetch that finds no new record. Apache Kafka answers
    # as soon as a record arrives; the embedded broker (Tansu) looks again after half the
    # time left, so a record waits up to half of this before its consumer sees it, and
    # shorter costs the broker CPU for each idle consumer (docs/benchmarks.md).
    consumer_fetch_max_wait_ms: int = Field(default=100, ge=0, le=30_000)
    # Where a service asks identity about a customer its own directory lacks
    # (sila_common.identity_client), as the client ``service_name`` of identity's
    # SILA_IDENTITY_SERVICE_CLIENTS; unset, the secret is the dev one (refused in prod).
    identity_url: str = "http://127.0.0.1:8001"
    identity_client_secret: SecretStr | None = None

    def identity_secret(self) -> str:
        if self.identity_client_secret is not None:
            return self.identity_client_secret.get_secret_value()
        return f"dev-only-{self.service_name}-service-secret"

    @field_validator("database_url")
    @classmethod
    def _postgresql_only(cls, value: str) -> str:
        if value and not value.startswith("postgresql"):
            raise ValueError(
                "Sila runs on PostgreSQL only: postgresql+asyncpg://user@host:port/database"
            )
        return value

    def resolved_database_url(self) -> str:
        """The configured URL, or the service's database on ``make run``'s embedded PostgreSQL."""
        if self.database_url:
            return self.database_url
        return (
            f"postgresql+asyncpg://postgres@127.0.0.1:{DEV_POSTGRES_PORT}/sila_{self.service_name}"
        )


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
"""A service's own settings type (``Runtime[SettingsT]``, ``HandlerContext[SettingsT]``)."""
