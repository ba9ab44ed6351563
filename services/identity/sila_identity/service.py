"""Identity, as the platform runs it: customers, log-in, and the customer timeline."""

from __future__ import annotations

from pathlib import Path

from sila_common.auth import KeySource, LocalKeySource
from sila_common.service import ServiceDefinition
from sila_common.settings import Profile
from sila_identity import handlers
from sila_identity.api import admin, auth, contracts, customers, interactions, privacy, timeline
from sila_identity.auth.keys import KeyStore
from sila_identity.demo import load_demo_data
from sila_identity.runtime import IdentityRuntime
from sila_identity.settings import IdentitySettings, get_settings
from sila_identity.tables import messaging, metadata

DEV_SECRETS = {
    name: IdentitySettings.model_fields[name].default
    for name in ("signing_key_passphrase", "otp_secret")
}


def _key_store(runtime: IdentityRuntime) -> KeyStore:
    return runtime.collaborators.get_or_make(
        KeyStore,
        lambda: KeyStore(
            runtime.engine,
            runtime.settings.signing_key_passphrase.get_secret_value(),
            runtime.settings.key_cache_seconds,
        ),
    )


def _local_keys(runtime: IdentityRuntime) -> KeySource:
    return LocalKeySource(_key_store(runtime).public_keys)


async def _on_startup(runtime: IdentityRuntime) -> None:
    settings = runtime.settings
    if runtime.platform.profile == Profile.PROD:
        for name, default in DEV_SECRETS.items():
            if getattr(settings, name).get_secret_value() == default.get_secret_value():
                raise RuntimeError(f"SILA_IDENTITY_{name.upper()} must be set in production")
    await _key_store(runtime).ensure_key()


definition = ServiceDefinition[IdentitySettings](
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
