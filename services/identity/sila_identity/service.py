"""Identity, as the platform runs it: customers, log-in, and the customer timeline."""

from __future__ import annotations

from pathlib import Path

from sila_common import otp_transport
from sila_common.auth import KeySource, LocalKeySource
from sila_common.service import ServiceDefinition
from sila_common.settings import Profile
from sila_identity import handlers, jobs
from sila_identity.api import (
    admin,
    auth,
    contracts,
    customers,
    geography,
    interactions,
    privacy,
    timeline,
)
from sila_identity.auth.keys import KeyStore
from sila_identity.demo import load_demo_data
from sila_identity.flows.reform import apply_reform
from sila_identity.runtime import IdentityRuntime
from sila_identity.settings import IdentitySettings, get_settings
from sila_identity.tables import messaging, metadata

SECRETS = ("signing_key_passphrase", "otp_secret", "otp_transport_key")
# Values anyone can read (the settings' defaults, docker-compose.yml's defaults, the
# placeholders of .env.example and deploy/k8s/secrets.example.yaml): refused in prod.
PUBLIC_SECRET_VALUES = frozenset(
    {
        *(IdentitySettings.model_fields[name].default.get_secret_value() for name in SECRETS),
        "sila-dev-signing-key-passphrase",
        "sila-dev-otp-secret",
        *otp_transport.PUBLIC_KEYS,
        "change-me",
        "change-me-too",
        "change-me-three",
        "REPLACE_ME",
    }
)
MIN_SECRET_LENGTH = 16


def check_production_secrets(settings: IdentitySettings) -> None:
    """RuntimeError unless every secret is set to private values of a decent length."""
    for name in SECRETS:
        value = getattr(settings, name).get_secret_value()
        if value in PUBLIC_SECRET_VALUES or len(value) < MIN_SECRET_LENGTH:
            variable = (
                otp_transport.KEY_ENV
                if name == "otp_transport_key"
                else f"SILA_IDENTITY_{name.upper()}"
            )
            raise RuntimeError(
                f"{variable} must be set in production to a private value "
                f"of at least {MIN_SECRET_LENGTH} characters (not a published default)"
            )


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
        check_production_secrets(settings)
        for client, secret in settings.service_clients.items():
            if secret.get_secret_value().startswith("dev-only-"):
                raise RuntimeError(
                    f"SILA_IDENTITY_SERVICE_CLIENTS must give {client} its own secret in production"
                )
    await _key_store(runtime).ensure_key()


async def apply_reform_command(runtime: IdentityRuntime) -> None:
    """``python -m sila_identity apply-reform``: idempotent, resumable; prints what it did."""
    for line in (await apply_reform(runtime)).lines():
        print(line)


definition = ServiceDefinition[IdentitySettings](
    name="identity",
    title="Sila identity",
    description="Customers, contracts, agents, log-in and the unified customer timeline.",
    settings_factory=get_settings,
    metadata=metadata,
    tables=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    # Routes are matched in order: the customers' router (the agents' lookup) first, then
    # the timeline's (its page was matched after ≈ 27 routes: docs/benchmarks.md, "the
    # timeline's request path").
    routers=[
        customers.router,
        timeline.router,
        auth.router,
        contracts.router,
        interactions.router,
        privacy.router,
        admin.router,
        geography.reference,
        geography.admin,
    ],
    consumers=[handlers.TIMELINE],
    background_jobs=[jobs.run_jobs],
    key_source_factory=_local_keys,
    on_startup=_on_startup,
    load_demo_data=load_demo_data,
    commands={"apply-reform": apply_reform_command},
)
