"""Settings shared by every service, read from the environment (pydantic-settings).

Platform-wide variables carry the ``SILA_`` prefix; each service adds its own with
``SILA_<SERVICE>_`` (for example ``SILA_TICKETS_DATABASE_URL``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


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
    relay_poll_interval_seconds: float = Field(default=0.05, gt=0)
    relay_max_shards: int = Field(default=16, ge=1)
    outbox_retention_hours: int = Field(default=24 * 7, ge=1)
    # Consumer tuning.
    consumer_max_attempts: int = Field(default=4, ge=1)
    consumer_backoff_seconds: float = Field(default=0.2, gt=0)
    consumer_session_timeout_ms: int = Field(default=10_000, ge=1000)

    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded default: one SQLite file per service."""
        if self.database_url:
            return self.database_url
        VAR_DIR.mkdir(exist_ok=True)
        return f"sqlite+aiosqlite:///{VAR_DIR / (self.service_name + '.db')}"


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
"""A service's own settings type (``Runtime[SettingsT]``, ``HandlerContext[SettingsT]``)."""
