"""Identity, as the platform runs it: customers, log-in, and the customer timeline."""

from __future__ import annotations

from pathlib import Path

from sila_common.auth import KeySource, LocalKeySource
from sila_common.service import Runtime, ServiceDefinition
from sila_common.settings import Profile
from sila_identity import handlers
from sila_identity.api import admin, auth, contracts, customers, interactions, privacy, timeline
from sila_identity.auth.keys import KeyStore
from sila_identity.demo import load_demo_data
from sila_identity.settings import IdentitySettings, get_settings
from sila_identity.tables import messaging, metadata

DEV_SECRETS = {
    name: IdentitySettings.model_fields[name].default
    for name in ("signing_key_passphrase", "otp_secret")
}


def _key_store(runtime: Runtime) -> KeyStore:
    keys = runtime.extras.get("keys")
    if keys is None:
        settings = runtime.settings
        assert isinstance(settings, IdentitySettings)
        keys = KeyStore(
            runtime.engine,
            settings.signing_key_passphrase.get_secret_value(),
            settings.key_cache_seconds,
        )
        runtime.extras["keys"] = keys
    assert isinstance(keys, KeyStore)
    return keys


def _local_keys(runtime: Runtime) -> KeySource:
    return LocalKeySource(_key_store(runtime).public_keys)


async def _on_startup(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, IdentitySettings)
    if runtime.platform.profile == Profile.PROD:
        for name, default in DEV_SECRETS.items():
            if getattr(settings, name).get_secret_value() == default.get_secret_value():
                raise RuntimeError(f"SILA_IDENTITY_{name.upper()} must be set in production")
        for client, secret in settings.service_clients.items():
            if secret.get_secret_value().startswith("dev-only-"):
                raise RuntimeError(
                    f"SILA_IDENTITY_SERVICE_CLIENTS must give {client} its own secret in production"
                )
    await _key_store(runtime).ensure_key()


definition = ServiceDefinition(
    name="identity",
    title="Sila identity",
    description="Customers, contracts, agents, log-in and the unified customer timeline.",
    settings_factory=get_settings,
    metadata=metadata,
    tables=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    routers=[
        auth.router,
        customers.router,
        contracts.router,
        interactions.router,
        privacy.router,
        timeline.router,
        admin.router,
        admin.reference,
    ],
    consumers=[handlers.TIMELINE],
    key_source_factory=_local_keys,
    on_startup=_on_startup,
    load_demo_data=load_demo_data,
)
