"""Identity's settings (``SILA_IDENTITY_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from sila_common.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SILA_IDENTITY_", extra="ignore")

    service_name: str = "identity"
    port: int = 8001
    # Encrypts the private signing keys at rest; the dev default is refused in prod.
    signing_key_passphrase: SecretStr = SecretStr("dev-only-signing-key-passphrase")
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    key_cache_seconds: float = Field(default=30.0, gt=0)


def get_settings() -> IdentitySettings:
    return IdentitySettings()
